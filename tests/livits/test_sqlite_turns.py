"""livits.sqlite: the writers of one server process go in the order they came, so under a
burst none waits out the busy timeout behind newcomers ("database is locked", which
Django answered 400 when it struck the session save of a login)."""

import threading

import pytest

from livits.sqlite import base

ROUNDS = 20


@pytest.fixture
def connect(tmp_path, django_db_blocker):
    """New connections to a database file of the test's own, in the server's settings but
    for SQLite's busy timeout: none, so a writer that meets the lock fails at once."""
    settings = {
        "ENGINE": "livits.sqlite",
        "NAME": str(tmp_path / "turns.sqlite3"),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 0},
        "ATOMIC_REQUESTS": False,
        "AUTOCOMMIT": True,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "TIME_ZONE": None,
        "TEST": {},
        **dict.fromkeys(("USER", "PASSWORD", "HOST", "PORT"), ""),
    }
    with django_db_blocker.unblock():
        yield lambda: base.DatabaseWrapper(dict(settings), alias="turns")


def begin(connection):
    connection.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
    connection.cursor().execute("INSERT INTO log (who) VALUES ('main')")


def end(connection):
    connection.commit()
    connection.set_autocommit(True)


def test_a_writer_that_waits_goes_in_before_the_ones_that_came_after_it(connect):
    """The main thread writes in ROUNDS back-to-back transactions; another thread asks to
    write while the first runs: it goes second, though the main thread asks again at once."""
    main = connect()
    main.cursor().execute("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT)")

    def other():
        connection = connect()
        connection.cursor().execute("INSERT INTO log (who) VALUES ('other')")
        connection.close()

    begin(main)
    thread = threading.Thread(target=other)
    thread.start()
    while not base.WRITERS.waiting() and thread.is_alive():  # the other one is in the queue
        thread.join(0.001)
    for _ in range(ROUNDS - 1):
        end(main)
        begin(main)
    end(main)
    thread.join()
    order = [who for (who,) in main.cursor().execute("SELECT who FROM log ORDER BY id")]
    main.close()
    assert order == ["main", "other"] + ["main"] * (ROUNDS - 1)


def test_a_writer_waits_for_the_lock_in_the_queue_not_in_sqlite(connect):
    """However long the transaction ahead takes, the writer behind it is not told that the
    database is locked: it waits its turn (the busy timeout here is zero)."""
    main = connect()
    main.cursor().execute("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT)")
    errors = []

    def other():
        connection = connect()
        try:
            connection.cursor().execute("INSERT INTO log (who) VALUES ('other')")
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        connection.close()

    begin(main)
    thread = threading.Thread(target=other)
    thread.start()
    while not base.WRITERS.waiting() and thread.is_alive():
        thread.join(0.001)
    end(main)
    thread.join()
    assert errors == []
    order = [who for (who,) in main.cursor().execute("SELECT who FROM log ORDER BY id")]
    main.close()
    assert order == ["main", "other"]


def test_a_write_statement_outside_a_transaction_takes_its_turn_and_gives_it_back(connect):
    connection = connect()
    connection.cursor().execute("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT)")
    connection.cursor().execute("INSERT INTO log (who) VALUES ('alone')")
    assert not connection.holds_turn and base.WRITERS.acquire(0)
    base.WRITERS.release()
    connection.close()
