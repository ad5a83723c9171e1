"""Helpers shared by the tests (fixtures live in conftest.py)."""

import io
import re
import threading

from django.core import mail
from django.db import connection
from django.urls import reverse
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from audit.models import AuditEvent
from livits import clock
from mfa import devices, totp
from mfa.enrolment import allow_linking
from mfa.middleware import AUTH_METHOD

PASSWORD = "Correct-horse-42"
LOGIN = reverse("accounts:login")


def at_once(call, times):
    """A race: `call(index)` in `times` threads released together; the results by index.
    Each thread closes its own database connection; the first error is raised here."""
    barrier = threading.Barrier(times)
    results, errors = [None] * times, []

    def run(index):
        try:
            barrier.wait()
            results[index] = call(index)
        except Exception as error:  # noqa: BLE001 - raised below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def first_sheet(content):
    """The worksheet an XLSX file opens on."""
    sheet = load_workbook(io.BytesIO(content)).active
    assert isinstance(sheet, Worksheet), sheet
    return sheet


def code_at(secret, now, steps=0):
    return totp.code_at_step(secret, totp.step_at(now) + steps)


def shown_key(response):
    """The manual key on a rendered padlock or link page, without spaces; None if absent."""
    html = response if isinstance(response, str) else response.content.decode()
    match = re.search(r'data-testid="key">([A-Z2-7 ]+)<', html)
    return match.group(1).replace(" ", "") if match else None


def post_login(client, username="rdewit", password=PASSWORD, code="", **extra):
    return client.post(LOGIN, {"username": username, "password": password, "code": code, **extra})


def link(user, now, *, by=None, secret=None, **options):
    """Link a fresh authenticator (or `secret`) to `user` at `now`: a test's setting up,
    so the mail it sends the person is not kept in the test outbox."""
    secret = secret or totp.new_secret()
    before = len(mail.outbox)
    device = devices.device_link(
        user=user,
        secret=secret,
        code=code_at(secret, now),
        by=by or user,
        ip="192.0.2.1",
        now=now,
        **options,
    )
    del mail.outbox[before:]
    return device


def login_with_code(client, user):
    """force_login, with the session marked as opened with an access code (it survives go-live)."""
    client.force_login(user)
    session = client.session
    session[AUTH_METHOD] = AuditEvent.Action.LOGIN_CODE
    session.save()
    return client


def confirmed(client, user):
    """`user` logged in with a code, in a session that just proved password and code: the
    step-up window is open from the server's clock (livits.clock.now) on."""
    login_with_code(client, user)
    session = client.session
    allow_linking(session, clock.now())
    session.save()
    return client


def main_pages(*, linked, unlinked, location=None):
    """The pages a beheerder works with: (name, url). `linked` has MFA, `unlinked` not;
    `location` a trusted location (its removal asks first)."""
    locations = (
        [("remove trusted location", reverse("mfa:location_remove", args=[location.pk]))]
        if location
        else []
    )
    persons = [
        ("person", reverse("accounts:person_detail", args=[linked.person.pk])),
        ("user tab", reverse("accounts:person_detail", args=[linked.person.pk]) + "?tab=user"),
        ("person form", reverse("accounts:person_update", args=[linked.person.pk])),
        ("system user form", reverse("accounts:system_user_edit", args=[linked.person.pk])),
        ("delete person", reverse("accounts:person_delete", args=[unlinked.person.pk])),
        ("link MFA", reverse("mfa:admin_link", args=[unlinked.person.pk])),
        ("unlink MFA", reverse("mfa:admin_unlink", args=[linked.person.pk])),
    ]
    reports = [
        (slug, reverse("reports:report", args=[slug]))
        for slug in ("personen-met-mfa", "systeemgebruikers-en-inlog-stats")
    ]
    return [
        ("home", reverse("accounts:home")),
        ("padlock", reverse("mfa:enrol")),
        ("persons", reverse("accounts:person_list")),
        ("new person", reverse("accounts:person_create")),
        *persons,
        ("rights structure", reverse("reports:index")),
        *reports,
        ("MFA settings", reverse("mfa:settings")),
        *locations,
        ("go-live", reverse("mfa:go_live")),
        ("reminders", reverse("mfa:reminders")),
        ("sessions and browsers", reverse("mfa:sessions")),
        ("end other sessions", reverse("mfa:sessions_end_others")),
        ("audit log", reverse("mfa:auditlog")),
        ("recovery codes, shown already", reverse("mfa:recovery_make")),
        ("an action opened directly", reverse("mfa:step_up")),
        ("not found", "/persons/999999/"),
    ]
