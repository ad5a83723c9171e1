"""The rollout campaign (manual 3.1): a go-live everyone sees coming, reminders to whoever
has not linked yet, at most one a day, and a preview of who the go-live locks out."""

import io
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Person, User
from audit.models import AuditEvent
from mfa import background, rollout
from mfa.models import MfaSettings
from tests.helpers import PASSWORD, at_once, link, login_with_code

Action = AuditEvent.Action
REPORT = reverse("reports:report", args=["personen-met-mfa"])
REMINDERS = reverse("mfa:reminders")


def plan(days, hours=0, now=None):
    at = (now or timezone.now()) + timedelta(days=days, hours=hours)
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": at})
    return at


def person(username, email="", hidden=False, active=True):
    user = User.objects.create_user(
        username,
        PASSWORD,
        person=Person.objects.create(first_name=username.title(), last_name="Test", email=email),
        is_hidden=hidden,
        is_active=active,
    )
    return user


@pytest.fixture
def staff(db, admin_user, system_user):
    """Rob (no app, an e-mail address), Astrid (an app), Kees (no e-mail), Henk (hidden),
    Oud (cannot log in): only Rob is reminded, Henk too when asked."""
    link(person("adejong", "astrid@example.org"), timezone.now())
    person("kees")
    person("henk", "henk@example.org", hidden=True)
    person("oud", "oud@example.org", active=False)
    return system_user


def send(now=None, **options):
    return rollout.reminders_send(
        by=None,
        now=now or timezone.now(),
        site_url="https://livits.example",
        language="nl",
        **options,
    )


# --- The banner -----------------------------------------------------------------------


def test_a_planned_go_live_shows_a_banner_to_who_has_no_app(client, system_user, frozen_clock):
    plan(days=30, now=frozen_clock)  # the days left are counted on the server's clock
    client.force_login(system_user)
    for url in ("/", reverse("mfa:enrol")):
        html = client.get(url).content.decode()
        assert 'data-testid="rollout-banner"' in html
        assert "is een toegangscode verplicht. Koppel nu uw authenticator-app." in html
        assert "(nog 30 dagen)" in html and 'href="/mfa/"' in html


def test_no_banner_with_an_app_without_a_plan_or_after_the_go_live(
    client, linked_user, system_user
):
    plan(days=30)
    login_with_code(client, linked_user)
    assert 'data-testid="rollout-banner"' not in client.get("/").content.decode()
    MfaSettings.objects.update(go_live_at=None)
    other = Client()
    other.force_login(person("nieuw"))
    assert 'data-testid="rollout-banner"' not in other.get("/").content.decode()


def test_the_banner_hides_until_the_last_seven_days(client, system_user):
    plan(days=20)
    client.force_login(system_user)
    client.post(reverse("mfa:banner_hide"), {"next": "/persons/"})
    assert 'data-testid="rollout-banner"' not in client.get("/").content.decode()
    plan(days=6)
    html = client.get("/").content.decode()
    assert 'data-testid="rollout-banner"' in html and "Verbergen" not in html


def test_the_hide_button_goes_back_only_within_the_site(client, system_user):
    plan(days=20)
    client.force_login(system_user)
    response = client.post(reverse("mfa:banner_hide"), {"next": "https://evil.example/"})
    assert response["Location"] == "/"


# --- Who is reminded, once a day --------------------------------------------------------


def test_only_people_who_can_log_in_without_an_app_and_with_an_address_are_reminded(staff):
    assert send() == 1
    assert mail.outbox[0].to == ["rob@example.org"]
    staff.refresh_from_db()
    assert staff.mfa_reminded_at is not None
    assert send(now=timezone.now() + timedelta(hours=25), include_hidden=True) == 2


def test_a_person_is_reminded_at_most_once_a_day(staff):
    now = timezone.now()
    assert send(now=now) == 1
    assert send(now=now + timedelta(hours=23)) == 0
    assert send(now=now + timedelta(hours=24)) == 1
    assert len(mail.outbox) == 2
    batches = AuditEvent.objects.filter(action=Action.REMINDERS_BATCH).order_by("id")
    assert [event.data["sent"] for event in batches] == [1, 0, 1]
    assert AuditEvent.objects.filter(action=Action.REMINDER_SENT, subject=staff).count() == 2


def test_a_reminder_the_mail_server_refuses_stays_in_the_outbox_and_is_not_sent_twice(
    staff, settings
):
    """The claim and the mail are written together; the outbox tries the mail again, and a
    second batch does not remind the person again."""
    from outbox.models import OutboxMail

    settings.EMAIL_BACKEND = "tests.mfa.test_rules_at_the_edges.BrokenForSomeone"
    staff.person.email = "stuk@example.org"
    staff.person.save()
    assert send() == 1
    queued = OutboxMail.objects.get(to="stuk@example.org")
    assert queued.status == OutboxMail.Status.QUEUED and queued.attempts == 1
    staff.refresh_from_db()
    assert staff.mfa_reminded_at is not None
    assert send() == 0


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_two_batches_at_once_send_one_mail_per_person():
    for number in range(6):
        person(f"lid{number}", f"lid{number}@example.org")
    counts = at_once(lambda _index: send(), 2)  # both batches run to the end
    assert sum(counts) == 6
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        f"lid{number}@example.org" for number in range(6)
    )


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("nl", ["Beste Rob,", "slotje", "QR-code", "Vanaf 1 februari 2027 09:00", "Overig"]),
        ("en", ["Dear Rob,", "padlock", "QR code", "From 1 February 2027 09:00", "Other"]),
    ],
)
def test_the_mail_says_what_to_do_in_the_manuals_words(system_user, language, words):
    MfaSettings.objects.update_or_create(
        pk=1,
        defaults={"go_live_at": timezone.make_aware(datetime(2027, 2, 1, 9, 0))},
    )
    rollout.reminders_send(
        by=None, now=timezone.now(), site_url="https://livits.example/", language=language
    )
    message = mail.outbox[0]
    for word in words:
        assert word in message.body, word
    assert "https://livits.example/mfa/" in message.body
    assert ("1 februari 2027" if language == "nl" else "1 February 2027") in message.subject


# --- The page and the command -------------------------------------------------------------


def test_the_beheerder_previews_then_sends_in_the_background(
    admin_client, admin_user, staff, monkeypatch, django_capture_on_commit_callbacks
):
    ran = []
    monkeypatch.setattr(background, "start", lambda work, **kw: ran.append(work(**kw)))
    assert (
        "Herinnering sturen aan niet-gekoppelde personen"
        in admin_client.get(REPORT).content.decode()
    )
    preview = admin_client.get(REMINDERS)
    html = preview.content.decode()
    assert [user.username for user in preview.context["due"]] == ["rdewit"]
    assert "slotje" in html and "rob@example.org" in html and not mail.outbox
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(REMINDERS)
    assert response["Location"] == REPORT and ran == [1]
    assert [message.to for message in mail.outbox] == [["rob@example.org"]]
    batch = AuditEvent.objects.get(action=Action.REMINDERS_BATCH)
    assert batch.actor == admin_user and batch.data["sent"] == 1
    assert "1 person" in batch.describe() or "1 e-mail" in batch.describe()
    with_hidden = admin_client.get(REMINDERS, {"include_hidden": "on"})
    assert [user.username for user in with_hidden.context["due"]] == ["henk"]
    assert with_hidden.context["recently_reminded"] == 1


def test_sending_needs_the_permission(user_client, staff):
    assert user_client.post(REMINDERS).status_code == 403
    assert not mail.outbox


def test_the_command_dry_run_sends_nothing_and_the_real_run_once(staff):
    out = io.StringIO()
    call_command("mfa", "remind", "--dry-run", stdout=out)
    assert "Would remind 1 person(s):\n  rdewit\trob@example.org" in out.getvalue()
    assert not mail.outbox
    call_command("mfa", "remind", stdout=out)
    call_command("mfa", "remind", stdout=out)
    assert "Reminded 1 person(s)." in out.getvalue() and "Reminded 0 person(s)." in out.getvalue()
    assert len(mail.outbox) == 1


def test_the_report_shows_when_and_filters_who_was_never_reminded(admin_client, staff):
    send()
    response = admin_client.get(REPORT, {"show": "never_reminded"})
    names = {row["first_name"] for row, _cells in response.context["rows"]}
    assert names == {"Sabrina", "Kees", "Henk", "Oud"}
    headers = [column.header for column in response.context["report"].columns]
    rob = next(
        cells
        for row, cells in admin_client.get(REPORT).context["rows"]
        if row["first_name"] == "Rob"
    )
    assert rob[headers.index("Herinnerd_op")]


def test_the_go_live_preview_and_the_settings_page_show_reminders_and_progress(admin_client, staff):
    send()
    html = admin_client.get(reverse("mfa:go_live")).content.decode()
    assert 'Rob de Wit (rdewit) · <span class="text-muted">herinnerd' in html
    assert 'Kees Test (kees) · <span class="text-muted">nooit herinnerd' in html
    out = io.StringIO()
    call_command("mfa", "status", stdout=out)
    assert "rdewit\tRob de Wit\treminded " in out.getvalue()
    plan(days=10)
    settings_page = admin_client.get(reverse("mfa:settings")).content.decode()
    assert (
        "MFA gaat live op" in settings_page
        # Oud, who cannot log in, is no part of the rollout (mfa.rollout.rollout_population)
        and "1 van 5 systeemgebruikers gekoppeld" in settings_page
    )
    with translation.override("en"):
        go_live_at = MfaSettings.load().go_live_at
        subject, _body = rollout.reminder_mail(
            staff, go_live_at=go_live_at, site_url="x", language="en"
        )
        assert subject.startswith("Livits:")
