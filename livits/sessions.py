"""Sessions in Redis with the database behind them, surviving a Redis outage.

Django's cached_db backend already falls back to the database when a cache read
fails, but a failing cache write, delete or membership test still raises. Here
every cache call that fails is logged and treated as a cache miss, so logins go
on against the database while Redis is away.
"""

import logging
from typing import Any, cast

from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

logger = logging.getLogger("livits.sessions")


class _TolerantCache:
    def __init__(self, cache: BaseCache) -> None:
        self._cache = cache

    def _call(self, name: str, *args: Any, default: Any = None) -> Any:
        try:
            return getattr(self._cache, name)(*args)
        except Exception:  # noqa: BLE001 - any cache failure is a miss
            logger.warning("session cache unavailable for %s", name)
            return default

    def get(self, key: str) -> Any:
        return self._call("get", key)

    def set(self, key: str, value: Any, timeout: int | None) -> Any:
        return self._call("set", key, value, timeout)

    def delete(self, key: str) -> Any:
        return self._call("delete", key)

    def __contains__(self, key: str) -> bool:
        return bool(self._call("has_key", key, default=False))


class SessionStore(CachedDBStore):
    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        # A duck-typed stand-in for the cache: the four calls the store makes.
        self._cache = cast(BaseCache, _TolerantCache(caches[settings.SESSION_CACHE_ALIAS]))
