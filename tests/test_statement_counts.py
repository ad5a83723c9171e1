"""The SQL statements the README states: an authenticated page's (bench/page.py measures
its time; the MFA settings are read once per request, by whichever of the go-live guard,
the banner and the page asks first, and never kept beyond it) and a refused login's
(bench/login.py). BEGIN/COMMIT/SAVEPOINT are not counted."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mfa.models import LoginThrottle, MfaSettings
from tests.helpers import PASSWORD, code_at, post_login

SETTINGS_READ = 'SELECT "mfa_mfasettings".'
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def settings_reads(queries):
    return sum(query["sql"].startswith(SETTINGS_READ) for query in queries.captured_queries)


def test_an_authenticated_page_reads_the_mfa_settings_once(
    client, admin_user, frozen_clock, django_assert_num_queries
):
    """A session opened without a second factor, before a planned go-live: the guard and
    the banner both need the settings. The page: the session, the user, the two
    permission reads, the settings, "has MFA" for the banner, and the person shown."""
    # the row a migration made may be gone: a transactional test before this one on the
    # same worker flushed the tables
    MfaSettings.load()
    MfaSettings.objects.filter(pk=1).update(go_live_at=frozen_clock + timedelta(days=30))
    client.force_login(admin_user)
    client.get("/")
    with django_assert_num_queries(7) as queries:
        response = client.get(reverse("reports:index"))
    assert 'data-testid="rollout-banner"' in response.content.decode()
    assert settings_reads(queries) == 1


def test_a_change_to_the_mfa_settings_holds_from_the_next_request(client, system_user):
    """Another worker changes the row (a plain UPDATE: nothing in this process hears of
    it); this worker's next request decides by the new settings."""
    MfaSettings.load()  # the row exists, as it does outside a flushed test database
    client.force_login(system_user)
    assert client.get("/").status_code == 200
    with connection.cursor() as cursor:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        cursor.execute("UPDATE mfa_mfasettings SET go_live_at = %s", [now])
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith(
        reverse("accounts:login")
    )


@pytest.mark.parametrize(
    ("password", "steps", "expected"),
    [
        # the address limit, the turn, the user, the apps, the trusted locations, the
        # audit record, the failure counted, and the login page again (passkeys allowed?)
        (PASSWORD, 10, 8),
        ("wrong", None, 6),  # neither apps nor trusted locations are read
    ],
    ids=["wrong access code", "wrong password"],
)
def test_a_refused_login_costs_its_statements(
    client, linked_user, secret, frozen_clock, password, steps, expected
):
    client.get(reverse("accounts:login"))
    code = "" if steps is None else code_at(secret, frozen_clock, steps=steps)
    with CaptureQueriesContext(connection) as queries:
        response = post_login(client, password=password, code=code)
    assert response.status_code == 200  # the page again, with the generic refusal
    assert LoginThrottle.objects.get(key="rdewit").failures == 1
    sql = [query["sql"].lstrip() for query in queries.captured_queries]
    assert sum(not statement.startswith(TRANSACTION_CONTROL) for statement in sql) == expected


def test_every_main_page_reads_the_mfa_settings_at_most_once(client, admin_user, backoffice):
    """The beheerder in a session the go-live guard checks against the settings, with a
    go-live planned (the banner); the padlock and the link page show the issuer name."""
    client.force_login(admin_user)
    for name, url in backoffice:
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        assert settings_reads(queries) <= 1, name
