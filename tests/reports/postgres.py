"""What the PostgreSQL-only tests of the reports share."""

import pytest
from django.db import connection


def figures_pg(reason):
    """Marks a test of the stored figures, which exist on PostgreSQL only."""

    def marked(test):
        skipped = pytest.mark.skipif(
            connection.vendor != "postgresql",
            reason=f"stored figures exist on PostgreSQL: {reason}",
        )
        return pytest.mark.postgresql(skipped(test))

    return marked


def wait_for_lock_wait(pid, thread):
    """Until the backend `pid` waits for a lock (or its thread has ended)."""
    with connection.cursor() as cursor:
        while thread.is_alive():
            cursor.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'",
                [pid],
            )
            if cursor.fetchone()[0]:
                return
            thread.join(0.01)
