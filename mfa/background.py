"""Work that follows a request without making it wait: started once the request's
transaction has committed, in a thread of its own with its own database connection."""

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections, connection, transaction

logger = logging.getLogger("livits.background")


def _run(work: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    close_old_connections()
    try:
        work(**kwargs)
    except Exception:
        logger.exception("background work %s failed", getattr(work, "__name__", work))
    finally:
        connection.close()


def start(work: Callable[..., Any], **kwargs: Any) -> threading.Thread:
    thread = threading.Thread(target=_run, args=(work, kwargs), daemon=True)
    thread.start()
    return thread


def after_commit(work: Callable[..., Any], **kwargs: Any) -> None:
    """Run `work(**kwargs)` in the background once the current transaction commits."""
    transaction.on_commit(lambda: start(work, **kwargs))
