"""Sessies en browsers: every session is recorded at sign-in, seen, and ended by the
person or a beheerder on every worker; a new browser is announced by mail."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from livits import clock
from mfa import devices, sessions
from mfa.errors import MfaError
from mfa.marks import COOKIE
from mfa.models import DeviceMark, UserSession
from tests.helpers import LOGIN, PASSWORD, code_at

Action = AuditEvent.Action
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
HOME = reverse("accounts:home")
PAGE = reverse("mfa:sessions")


def sign_in(client, user, secret, now, *, agent=FIREFOX, ip="192.0.2.10", steps=0):
    response = client.post(
        LOGIN,
        {"username": user.username, "password": PASSWORD, "code": code_at(secret, now, steps)},
        headers={"user-agent": agent},
        REMOTE_ADDR=ip,
    )
    assert response.status_code == 302, response.content
    return client


def step_up(secret, now):
    """Password and the code of `now` (later than the sign-ins' codes)."""
    return {"password": PASSWORD, "code": code_at(secret, now)}


def signed_in(client):
    return client.get(HOME).status_code == 200


@pytest.fixture
def move(monkeypatch, frozen_now):
    """Set the server's clock (livits.clock.now) to `frozen_now` plus some seconds."""

    def to(seconds):
        moment = frozen_now + timedelta(seconds=seconds)
        monkeypatch.setattr(clock, "now", lambda: moment)
        return moment

    return to


@pytest.fixture
def two(linked_user, secret, frozen_clock):
    """Rob signed in twice: in Firefox at the office and on his iPhone."""
    first = sign_in(Client(), linked_user, secret, frozen_clock)
    second = sign_in(
        Client(), linked_user, secret, frozen_clock, agent=IPHONE, ip="2001:db8::5", steps=1
    )
    return first, second


def test_a_sign_in_records_its_session_in_words(two, linked_user, frozen_now):
    first, _second = two
    rows = {row.browser: row for row in UserSession.objects.filter(user=linked_user)}
    assert set(rows) == {"Firefox 128 · Windows 10", "Mobile Safari 17 · iOS 17"}
    firefox = rows["Firefox 128 · Windows 10"]
    assert (firefox.ip, firefox.method, firefox.signed_in_at) == (
        "192.0.2.10",
        Action.LOGIN_CODE,
        frozen_now,
    )
    key = first.session.session_key
    assert firefox.key_digest == sessions.key_digest(key)
    assert key not in firefox.key_encrypted  # the bearer secret is stored encrypted only
    page = first.get(PAGE).content.decode()
    assert "Mobile Safari 17 · iOS 17" in page and "2001:db8::5" in page
    assert page.count('data-testid="this-session"') == 1


def test_logout_removes_the_session_from_the_list(two, linked_user):
    first, second = two
    second.post(reverse("accounts:logout"))
    [left] = sessions.sessions_open(linked_user, clock.now())
    assert left.browser.startswith("Firefox")


def test_an_expired_session_is_not_listed(two, linked_user):
    first, _second = two
    Session.objects.filter(session_key=first.session.session_key).update(
        expire_date=clock.now() - timedelta(seconds=1)
    )
    assert [row.browser for row in sessions.sessions_open(linked_user, clock.now())] == [
        "Mobile Safari 17 · iOS 17"
    ]


def usersession_updates(queries):
    return [q for q in queries if q["sql"].startswith("UPDATE") and "mfa_usersession" in q["sql"]]


def test_last_activity_is_written_at_most_once_a_minute(two, linked_user, move):
    first, _second = two
    digest = sessions.key_digest(first.session.session_key)
    first.get(HOME)  # this worker asks once: the row was written at sign-in
    with CaptureQueriesContext(connection) as seconds_later:
        move(30)
        first.get(HOME)
        first.get(HOME)
    assert usersession_updates(seconds_later.captured_queries) == []
    with CaptureQueriesContext(connection) as minute_later:
        later = move(61)
        first.get(HOME)
        first.get(HOME)
    assert len(usersession_updates(minute_later.captured_queries)) == 1
    assert UserSession.objects.get(key_digest=digest).last_seen_at == later


def test_another_worker_asking_in_the_same_minute_writes_nothing(two, move):
    first, _second = two
    key = first.session.session_key
    moment = move(90)
    sessions.activity_record(key, moment)
    sessions._asked.clear()  # another worker: it has not asked yet
    row = UserSession.objects.get(key_digest=sessions.key_digest(key))
    UserSession.objects.filter(pk=row.pk).update(last_seen_at=moment - timedelta(seconds=1))
    sessions.activity_record(key, moment + timedelta(seconds=2))
    assert UserSession.objects.get(pk=row.pk).last_seen_at == moment - timedelta(seconds=1)


def test_the_person_ends_the_other_sessions_after_step_up(two, linked_user, secret, move):
    first, second = two
    response = first.post(
        reverse("mfa:sessions_end_others"),
        step_up(secret, move(60)),
        headers={"user-agent": FIREFOX},
    )
    assert response.status_code == 302
    assert signed_in(first)
    assert not signed_in(second)
    [left] = sessions.sessions_open(linked_user, clock.now(), first.session.session_key)
    assert left.is_current and left.browser.startswith("Firefox")
    event = AuditEvent.objects.get(action=Action.OTHER_SESSIONS_ENDED)
    assert (event.subject, event.actor) == (linked_user, linked_user)


def test_a_wrong_code_ends_nothing(two, linked_user, secret, frozen_now):
    first, second = two
    row = UserSession.objects.get(browser__startswith="Mobile Safari")
    for url in (reverse("mfa:sessions_end_others"), reverse("mfa:session_end", args=[row.pk])):
        response = first.post(url, {"password": PASSWORD, "code": "000000"})
        assert response.status_code == 200
        [error] = response.context["form"].non_field_errors().as_data()
        assert error.code == "step_up_failed"
    assert signed_in(second)
    assert UserSession.objects.filter(user=linked_user).count() == 2


def test_the_person_ends_one_session_everywhere(two, linked_user, secret, move):
    first, second = two
    key = second.session.session_key
    row = UserSession.objects.get(key_digest=sessions.key_digest(key))
    response = first.post(reverse("mfa:session_end", args=[row.pk]), step_up(secret, move(60)))
    assert response.status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    assert not signed_in(second)
    assert signed_in(first)
    event = AuditEvent.objects.get(action=Action.SESSION_ENDED)
    assert event.data == {
        "reason": "ended_by_person",
        "browser": "Mobile Safari 17 · iOS 17",
        "address": "2001:db8::5",
    }


def test_session_zero_is_no_session(two, secret, move):
    first, second = two
    response = first.post(reverse("mfa:session_end", args=[0]), step_up(secret, move(60)))
    assert response.status_code == 404
    assert signed_in(second)


def test_nobody_ends_a_session_of_someone_else(two, admin_user, secret, move, client):
    row = UserSession.objects.earliest("pk")
    client.force_login(admin_user)
    response = client.post(reverse("mfa:session_end", args=[row.pk]), step_up(secret, move(60)))
    assert response.status_code == 404
    assert UserSession.objects.filter(pk=row.pk).exists()


def test_a_cache_out_of_reach_refuses_to_end_one_session(two, settings, monkeypatch):
    """In production sessions are cached: a copy left in the cache would come back."""
    first, second = two
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    row = UserSession.objects.get(key_digest=sessions.key_digest(second.session.session_key))

    def unreachable(*args, **kwargs):
        raise ConnectionError("cache away")

    from django.core.cache import caches

    monkeypatch.setattr(caches[settings.SESSION_CACHE_ALIAS], "delete", unreachable)
    with pytest.raises(MfaError):
        sessions.session_end_one(record=row, by=row.user, ip=None, now=clock.now())
    assert UserSession.objects.filter(pk=row.pk).exists()
    assert Session.objects.filter(session_key=second.session.session_key).exists()


def test_ending_deletes_the_cached_copy(two, settings):
    first, second = two
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    from django.contrib.sessions.backends.cached_db import KEY_PREFIX
    from django.core.cache import caches

    key = second.session.session_key
    cache = caches[settings.SESSION_CACHE_ALIAS]
    cache.set(KEY_PREFIX + key, {"cached": True}, 60)
    row = UserSession.objects.get(key_digest=sessions.key_digest(key))
    sessions.session_end_one(record=row, by=row.user, ip=None, now=clock.now())
    assert cache.get(KEY_PREFIX + key) is None
    assert not Session.objects.filter(session_key=key).exists()


def test_unlink_ends_the_sessions_and_their_records(two, linked_user, admin_user):
    first, second = two
    devices.device_unlink_all(user=linked_user, by=admin_user, ip=None, now=clock.now())
    assert not UserSession.objects.filter(user=linked_user).exists()
    assert not signed_in(first) and not signed_in(second)


def test_the_beheerder_ends_all_sessions(two, linked_user, admin_client, admin_user):
    first, second = two
    mail.outbox.clear()
    url = reverse("mfa:admin_sessions_end", args=[linked_user.person.pk])
    tab = admin_client.get(
        reverse("accounts:person_detail", args=[linked_user.person.pk]) + "?tab=user"
    )
    assert 'data-testid="end-all-sessions"' in tab.content.decode()
    assert "Mobile Safari 17 · iOS 17" in tab.content.decode()
    assert admin_client.post(url).status_code == 302
    assert not signed_in(first) and not signed_in(second)
    assert not UserSession.objects.filter(user=linked_user).exists()
    event = AuditEvent.objects.get(action=Action.SESSIONS_ENDED)
    assert (event.actor, event.data["reason"]) == (admin_user, "ended_by_admin")
    [message] = mail.outbox
    assert message.to == ["rob@example.org"]
    assert "al uw sessies beëindigd" in message.body


def test_ending_all_sessions_needs_the_right(two, linked_user, client, admin_user):
    first, _second = two
    other = User.objects.create_user(
        "kijker",
        PASSWORD,
        person=admin_user.person.__class__.objects.create(first_name="K", last_name="Ijker"),
    )
    client.force_login(other)
    url = reverse("mfa:admin_sessions_end", args=[linked_user.person.pk])
    assert client.post(url).status_code == 403
    assert signed_in(first)


def test_only_a_superuser_ends_a_superusers_sessions(linked_user, admin_client):
    linked_user.is_superuser = True
    linked_user.save()
    url = reverse("mfa:admin_sessions_end", args=[linked_user.person.pk])
    assert admin_client.post(url).status_code == 403
    assert not AuditEvent.objects.filter(action=Action.SESSIONS_ENDED).exists()


def test_deactivating_the_system_user_ends_the_sessions(two, linked_user, admin_client):
    first, _second = two
    admin_client.post(
        reverse("accounts:system_user_edit", args=[linked_user.person.pk]),
        {"username": linked_user.username},
    )
    assert not User.objects.get(pk=linked_user.pk).is_active
    assert not UserSession.objects.filter(user=linked_user).exists()
    event = AuditEvent.objects.get(action=Action.SESSIONS_ENDED)
    assert event.data["reason"] == "deactivated"


def test_break_glass_command(two, linked_user, admin_user, capsys):
    first, _second = two
    call_command("mfa", "endsessions", "--all", "--dry-run")
    assert "Would end rdewit: 2 recorded open session(s)." in capsys.readouterr().out
    assert signed_in(first)
    call_command("mfa", "endsessions", "RDEWIT")
    assert "Ended rdewit: 2" in capsys.readouterr().out
    assert not signed_in(first)
    assert list(
        AuditEvent.objects.filter(action=Action.SESSIONS_ENDED).values_list("data", flat=True)
    ) == [{"reason": "break_glass"}]


def test_a_new_browser_is_announced_once_a_day(linked_user, secret, frozen_clock, move, settings):
    """One mail per browser, address and day (the outbox's event key)."""
    mail.outbox.clear()
    sign_in(Client(), linked_user, secret, frozen_clock)
    [message] = mail.outbox
    assert message.to == ["rob@example.org"]
    assert "Firefox 128 · Windows 10" in message.body
    assert "192.0.2.10" in message.body
    assert settings.SITE_URL + PAGE in message.body
    # another private window, same browser and address, same day: no second mail
    sign_in(Client(), linked_user, secret, frozen_clock, steps=1)
    assert len(mail.outbox) == 1
    # from somewhere else: announced
    sign_in(Client(), linked_user, secret, move(60), ip="198.51.100.7")
    assert len(mail.outbox) == 2
    # the next day, from the first address again: announced
    sign_in(Client(), linked_user, secret, move(24 * 3600))
    assert len(mail.outbox) == 3


def test_a_marked_browser_signs_in_without_mail(linked_user, secret, frozen_clock, move):
    browser = sign_in(Client(), linked_user, secret, frozen_clock)
    browser.post(reverse("accounts:logout"))
    mail.outbox.clear()
    # the next day, from another address: the mark says it is the person's own browser
    sign_in(browser, linked_user, secret, move(24 * 3600), ip="198.51.100.7")
    assert mail.outbox == []


def test_the_new_browser_mail_speaks_the_interface_language(linked_user, secret, frozen_clock):
    mail.outbox.clear()
    browser = Client()
    browser.cookies["django_language"] = "en"
    sign_in(browser, linked_user, secret, frozen_clock)
    assert mail.outbox[0].subject == "Livits: sign-in from a new browser"
    mail.outbox.clear()
    dutch = Client()
    dutch.cookies["django_language"] = "nl"
    sign_in(dutch, linked_user, secret, frozen_clock, ip="198.51.100.7", steps=1)
    assert "nieuwe browser" in mail.outbox[0].subject


def test_forgetting_a_browser(two, linked_user, admin_user):
    first, _second = two
    mark = DeviceMark.objects.filter(user=linked_user).earliest("pk")
    first.post(reverse("mfa:mark_forget"), {"mark": mark.pk})
    assert not DeviceMark.objects.filter(pk=mark.pk).exists()
    event = AuditEvent.objects.get(action=Action.BROWSER_FORGOTTEN)
    assert event.actor == linked_user
    # someone else's mark is not theirs to forget
    other = DeviceMark.objects.create(user=admin_user, token="t" * 20, user_agent=FIREFOX)
    first.post(reverse("mfa:mark_forget"), {"mark": other.pk})
    assert DeviceMark.objects.filter(pk=other.pk).exists()


def test_the_padlock_page_links_to_the_sessions_page(two):
    first, _second = two
    assert PAGE in first.get(reverse("mfa:enrol")).content.decode()
    assert first.cookies.get(COOKIE)
