import os
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import override_settings
from django.utils import translation

from accounts.models import Person, User
from accounts.services import BEHEERDERS_GROUP
from mfa import totp
from tests.helpers import PASSWORD, link, login_with_code

# The slowest files (a browser, servers of their own, Argon2 under load) go first, so that
# the parallel workers finish together: make test runs xdist with --no-loadscope-reorder,
# which hands out whole files in this order.
SLOW_FIRST = ("tests/e2e/", "tests/production/", "tests/bench/", "tests/livits/test_embedded")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: not item.nodeid.startswith(SLOW_FIRST))


def pytest_runtest_setup(item):
    """A race test needs writers that run side by side: SQLite serialises them (and its
    in-memory test database locks whole tables), so there it skips, or fails where the
    races must run (LIVITS_REQUIRE_RACE_TESTS=1: `make test` in CI runs them on PostgreSQL)."""
    if item.get_closest_marker("race") and connection.vendor == "sqlite":
        reason = "SQLite serialises all writers; `make test` runs the races on PostgreSQL"
        if os.environ.get("LIVITS_REQUIRE_RACE_TESTS") == "1":
            pytest.fail(f"{reason}, and LIVITS_REQUIRE_RACE_TESTS=1", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(autouse=True, scope="session")
def static_files_looked_up_when_asked():
    """WhiteNoise looks a static file up when it is asked for, instead of indexing every
    file of the finders each time a handler loads the middleware: each test client
    would pay that index (pytest-django turns DEBUG off, which turns WhiteNoise's own
    autorefresh off). No test asks this process for a static file: the live server's
    handler serves them before the middleware, and gunicorn (tests/production) serves
    the collected files as in production."""
    with override_settings(WHITENOISE_AUTOREFRESH=True):
        yield


@pytest.fixture(autouse=True)
def default_language():
    """Every test starts in the default language: the LocaleMiddleware leaves the language
    of a test's last request active in the thread, and names made outside a request (such
    as "Apparaat 1") would otherwise depend on the test that ran before."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def outbox_delivers_at_once(monkeypatch):
    """A mail queued in the outbox is delivered at once, into Django's test outbox
    (django.core.mail.outbox), so that a test reads what the person received when the
    change was made. tests/outbox runs the real queue, worker and SMTP server instead."""
    from outbox import services
    from outbox.models import OutboxMail

    def deliver_now(mail_id, *, at):
        if at is None:  # a new mail; a lease's check (at) needs no worker here
            due = OutboxMail.objects.get(pk=mail_id).next_attempt_at
            services.mail_deliver(mail_id=mail_id, now=due)

    monkeypatch.setattr(services, "_enqueue", deliver_now)


@pytest.fixture(autouse=True)
def password_links_at_once(monkeypatch):
    """The task behind "Wachtwoord vergeten" (accounts.tasks.password_links) runs at once,
    on the server's clock: the person's mail is in the outbox when the page answers."""
    from accounts import passwords
    from livits import clock

    def send_now(*, name, ip, language):
        passwords.password_links_send(name=name, ip=ip, now=clock.now(), language=language)

    monkeypatch.setattr(passwords, "_enqueue", send_now)


@pytest.fixture(autouse=True)
def own_cache(settings, request):
    """Every test its own empty cache: the database cache's table is no model, so rows a
    transactional test left (say, the rollout figure) would outlive its flush and reach
    the next test on that worker."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": request.node.nodeid,
        }
    }


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # Argon2 (the production hasher) costs ~0.2 s per check; tests that are not
    # about hashing use a fast one. tests/accounts/test_models.py checks Argon2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def person(db):
    return Person.objects.create(
        first_name="Rob", infix="de", last_name="Wit", email="rob@example.org"
    )


@pytest.fixture
def system_user(person):
    return User.objects.create_user("rdewit", PASSWORD, person=person)


@pytest.fixture
def admin_user(db):
    person = Person.objects.create(first_name="Sabrina", last_name="Boetzkes")
    user = User.objects.create_user("beheerder", PASSWORD, person=person)
    user.groups.add(Group.objects.get(name=BEHEERDERS_GROUP))
    return user


@pytest.fixture
def admin_client(client, admin_user):
    """The beheerder, logged in with an access code (her session outlives a go-live)."""
    return login_with_code(client, admin_user)


@pytest.fixture
def user_client(client, system_user):
    client.force_login(system_user)
    return client


@pytest.fixture
def frozen_now():
    """A fixed moment in the middle of a 30-second TOTP step."""
    return datetime(2026, 11, 25, 10, 0, 15, tzinfo=UTC)


@pytest.fixture
def frozen_clock(monkeypatch, frozen_now):
    """The server's clock (livits.clock.now) stopped at `frozen_now`: a request decides at
    the moment the test gave the services, however long the test takes to get there."""
    from livits import clock

    monkeypatch.setattr(clock, "now", lambda: frozen_now)
    return frozen_now


@pytest.fixture
def secret():
    return totp.new_secret()


@pytest.fixture
def linked_user(system_user, secret, frozen_now):
    """rdewit with one device, linked a minute before `frozen_now`."""
    link(system_user, frozen_now - timedelta(minutes=1), secret=secret)
    system_user.refresh_from_db()
    return system_user


@pytest.fixture
def backoffice(admin_user, linked_user, frozen_now):
    """A small installation: the beheerder and Rob with MFA, Astrid without, a trusted
    location, some history; and the main pages of the backoffice."""
    from django.utils import timezone

    from mfa import login
    from mfa.models import MfaSettings, TrustedLocation
    from tests.helpers import main_pages

    now = timezone.now()
    link(admin_user, now)
    astrid = User.objects.create_user(
        "adejong",
        PASSWORD,
        person=Person.objects.create(
            first_name="Astrid", infix="de", last_name="Jong", email="astrid@example.org"
        ),
    )
    office = TrustedLocation.objects.create(name="Kantoor", network="203.0.113.0/24")
    login.login_attempt(username="adejong", password="wrong", code="", ip=None, now=now)
    # a planned go-live: Astrid, who has no app, sees the banner on every page
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": now + timedelta(days=30)})
    return main_pages(linked=linked_user, unlinked=astrid, location=office)


@pytest.fixture
def world(admin_user, linked_user):
    """One object of each kind a URL of the backoffice names (a session, a person, a
    device, a trusted location, a report, a password link): the URL walks of
    tests/test_hostile_urls.py and tests/livits/test_action_pages.py fill them in."""
    from django.utils import timezone

    from accounts import passwords
    from mfa.models import Device, TrustedLocation
    from mfa.sessions import session_record

    location = TrustedLocation.objects.create(name="Kantoor", network="203.0.113.0/24")
    now = timezone.now()
    session = session_record(
        user=admin_user,
        session_key="x" * 32,
        method="login_code",
        via_admin=False,
        user_agent="Firefox/128.0",
        ip="192.0.2.1",
        signed_in_at=now,
        now=now,
    )
    link = passwords.link_url(user=linked_user, kind=passwords.RESET_LINK)
    uidb64, token = link.rstrip("/").split("/")[-2:]
    return {
        "session": session.pk,
        "person": linked_user.person.pk,
        "device": Device.objects.get(user=linked_user).pk,
        "location": location.pk,
        "slug": "personen-met-mfa",
        "export": "csv",
        "kind": passwords.RESET_LINK,
        "uidb64": uidb64,
        "token": token,
    }
