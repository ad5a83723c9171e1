"""The rollout figure (mfa.rollout.rollout: who has MFA, of those who may log in), kept
in the cache.

Counting it means a probe per system user (200,000 at a million persons), too much
for every view of a report. It is counted at most once per LIFETIME and forgotten
whenever "has MFA" or who may log in may have changed: the code that
makes such a change calls mfa_changed(). The short lifetime covers what no write
announces: a temporary device whose end passes.
"""

from datetime import datetime

from django.core.cache import cache
from django.db import transaction

KEY = "reports:rollout"
LIFETIME = 60  # seconds


def rollout(now: datetime) -> tuple[int, int]:
    """(linked, total): counted, or as counted less than LIFETIME ago."""
    # imported here: mfa's writes import this module to call mfa_changed()
    from mfa.rollout import rollout as count_rollout

    figures = cache.get(KEY)
    if figures is None:
        figures = count_rollout(now)
        cache.set(KEY, figures, LIFETIME)
    linked, total = figures
    return int(linked), int(total)


def mfa_changed() -> None:
    """The rollout figure may be different now: count it again at the next view, once the
    change is committed (a rolled-back change changes nothing)."""
    transaction.on_commit(lambda: cache.delete(KEY))
