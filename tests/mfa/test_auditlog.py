"""Auditlog: every person's audit records for beheerders, filtered, paged by keyset,
exported as formula-safe CSV; and every record as one JSON line on the application log."""

import json
from datetime import timedelta

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from audit.services import audit
from tests.helpers import PASSWORD, code_at, post_login

Action = AuditEvent.Action
URL = reverse("mfa:auditlog")


def history(frozen_now, count, **fields):
    for number in range(count):
        audit(
            action=Action.LOGIN_FAILED,
            subject_name=f"naam{number % 3}",
            at=frozen_now - timedelta(minutes=number),
            **fields,
        )


def test_the_pages_walk_the_history_by_keyset(admin_client, frozen_now):
    history(frozen_now, 120)
    seen, after, pages = [], "", 0
    with CaptureQueriesContext(connection) as queries:
        while pages < 5:
            response = admin_client.get(URL, {"after": after} if after else {})
            page = response.context["page"]
            seen += [event.pk for event in page.events]
            pages += 1
            if not page.next_cursor:
                break
            after = page.next_cursor
    assert pages == 3
    assert len(seen) == len(set(seen)) == AuditEvent.objects.count()
    assert not any("OFFSET" in query["sql"] for query in queries.captured_queries)


def test_the_filter_by_person_event_and_period(admin_client, frozen_now):
    history(frozen_now, 9)
    audit(action=Action.LOCKED, subject_name="naam1", at=frozen_now - timedelta(days=3))
    response = admin_client.get(URL, {"person": "NAAM1", "action": "login_failed"})
    events = response.context["page"].events
    assert len(events) == 3 and {event.subject_name for event in events} == {"naam1"}
    day = (frozen_now - timedelta(days=3)).date().isoformat()
    response = admin_client.get(URL, {"since": day, "until": day})
    assert [event.action for event in response.context["page"].events] == [Action.LOCKED]


def test_only_beheerders_read_it(user_client):
    assert user_client.get(URL).status_code == 403


def test_the_csv_holds_no_formula(admin_client, frozen_now):
    audit(action=Action.LOGIN_FAILED, subject_name="=HYPERLINK(1)", ip="192.0.2.9", at=frozen_now)
    response = admin_client.get(URL, {"export": "csv", "person": "=HYPERLINK(1)"})
    text = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK(1)" in text
    assert ";=HYPERLINK" not in text
    assert text.count("\n") == 2  # the header and the one event


def test_every_record_is_one_json_line_on_the_log(
    caplog, linked_user, secret, frozen_clock, client, django_capture_on_commit_callbacks
):
    """Logged once committed: the test's transaction commits nothing, so run the callbacks."""
    before = AuditEvent.objects.count()
    with (
        caplog.at_level("INFO", logger="livits.audit"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        post_login(client, code=code_at(secret, frozen_clock))
        post_login(Client(), password="Wrong-horse-1", code="123456")
    lines = [
        json.loads(record.getMessage())
        for record in caplog.records
        if record.name == "livits.audit"
    ]
    assert [line["action"] for line in lines][:1] == [Action.LOGIN_CODE]
    assert lines[0]["subject"] == "rdewit" and lines[0]["at"].startswith("2026-11-25T10:00:15")
    assert len(lines) == AuditEvent.objects.count() - before == 2
    assert PASSWORD not in caplog.text and "Wrong-horse-1" not in caplog.text


def test_the_menu_shows_it_to_beheerders_only(admin_client, system_user):
    home = reverse("accounts:home")
    assert URL in admin_client.get(home).content.decode()
    other = Client()
    other.force_login(system_user)
    assert URL not in other.get(home).content.decode()
