"""Sessions in Redis with the database behind them, surviving a Redis outage.

Django's cached_db backend already falls back to the database when a cache read
fails, but a failing cache write, delete or membership test still raises. Here
every cache call that fails is logged and treated as a cache miss, so logins go
on against the database while Redis is away.
"""

import logging

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore

logger = logging.getLogger("livits.sessions")


class _TolerantCache:
    def __init__(self, cache):
        self._cache = cache

    def _call(self, name, *args, default=None):
        try:
            return getattr(self._cache, name)(*args)
        except Exception:  # noqa: BLE001 - any cache failure is a miss
            logger.warning("session cache unavailable for %s", name)
            return default

    def get(self, key):
        return self._call("get", key)

    def set(self, key, value, timeout):
        return self._call("set", key, value, timeout)

    def delete(self, key):
        return self._call("delete", key)

    def __contains__(self, key):
        return self._call("has_key", key, default=False)


class SessionStore(CachedDBStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._cache = _TolerantCache(self._cache)
