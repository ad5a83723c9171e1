"""SQLite for the embedded default, with the writers of one server process served in turn.

SQLite lets one writer in at a time; the others wait in its busy handler, which
polls the lock at growing intervals (up to 100 ms) and gives up after the busy
timeout. That wait is no queue: under a burst of logins a newcomer that polls
at 1 ms takes the lock again and again from the one that has waited longest, and
that one fails with "database is locked" however little work was ahead of it.
Failing in the session save, Django answers it 400 (SessionInterrupted); anywhere
else 500. Here the threads of a process take a turn before they write (an
explicit transaction, or a write statement outside one) and go in the order they
came, as long as the queue ahead of them takes: a busy server answers slower,
never with an error. SQLite's busy timeout still bounds the wait for another
process (a management command); TURN_SECONDS only guards against a writer that hangs.
"""

import threading
from collections import deque
from typing import Any

from django.db.backends.sqlite3 import base

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
TURN_SECONDS = 300  # then SQLite's busy handler decides, as without the queue


class Turns:
    """A first-come, first-served lock: each writer waits for the ones that came before
    it, up to a timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = False
        self._waiting: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._lock:
            if not self._busy:
                self._busy = True
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout):
            return True
        with self._lock:
            if turn.is_set():  # handed over as the wait ran out
                return True
            self._waiting.remove(turn)
            return False

    def waiting(self) -> int:
        return len(self._waiting)

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # the turn passes on: still busy
            else:
                self._busy = False


WRITERS = Turns()  # one per process: the database file is what the threads share


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holds_turn = False

    def take_turn(self) -> None:
        # An in-memory database (the test suite's) belongs to one connection's tests.
        if not self.holds_turn and not self.is_in_memory_db():
            self.holds_turn = WRITERS.acquire(TURN_SECONDS)

    def end_turn(self) -> None:
        if self.holds_turn:
            self.holds_turn = False
            WRITERS.release()

    # Private in Django (and so absent from django-stubs): where every transaction begins.
    def _start_transaction_under_autocommit(self) -> None:
        self.take_turn()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self.end_turn()
            raise

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_turn()

    def create_cursor(self, name: str | None = None) -> Any:
        return self.connection.cursor(factory=lambda db: Cursor(db, wrapper=self))


class Cursor(base.SQLiteCursorWrapper):
    """Takes the turn for a write statement outside a transaction, for that statement."""

    def __init__(self, connection: Any, *, wrapper: DatabaseWrapper) -> None:
        super().__init__(connection)
        self.wrapper = wrapper

    def execute(self, query: str, params: Any = None) -> Any:
        if self.wrapper.holds_turn or not query.lstrip().upper().startswith(WRITES):
            return super().execute(query, params)
        self.wrapper.take_turn()
        try:
            return super().execute(query, params)
        finally:
            self.wrapper.end_turn()

    def executemany(self, query: str, param_list: Any) -> Any:
        if self.wrapper.holds_turn or not query.lstrip().upper().startswith(WRITES):
            return super().executemany(query, param_list)
        self.wrapper.take_turn()
        try:
            return super().executemany(query, param_list)
        finally:
            self.wrapper.end_turn()
