"""Passwords (accounts.passwords): change your own with step-up, "Wachtwoord vergeten"
without enumeration and without bypassing the second factor, and the beheerder's link."""

import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import passwords
from accounts.forms import NewPasswordForm
from accounts.models import Person, User
from accounts.services import AccountError
from audit.models import AuditEvent
from livits import clock
from mfa import recovery
from mfa.models import LoginThrottle, MfaSettings, Passkey
from tests.helpers import PASSWORD, code_at, login_with_code, post_login

Action = AuditEvent.Action
NEW = "Violet-lantern-harbour-7"
FORGOT = reverse("accounts:password_forgot")
CHANGE = reverse("accounts:password_change")
REAL_ENQUEUE = passwords._enqueue  # the task's enqueue, before the tests' fixture replaces it
LINK = re.compile(r"https?://\S+/password/(?:reset|set)/[^/\s]+/[^/\s]+/")
CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


def move_clock(monkeypatch, moment):
    monkeypatch.setattr(clock, "now", lambda: moment)


def ask(client, name, **extra):
    return client.post(FORGOT, {"name": name}, **extra)


def mailed_link(index=-1):
    """The path of the link in a delivered mail (read from the outbox's mail)."""
    match = LINK.search(mail.outbox[index].body)
    assert match, mail.outbox[index].body
    return urlsplit(match.group(0)).path


def link_parts(path):
    _empty, _password, kind, uid, token, _end = path.split("/")
    return kind, uid, token


def open_link(client, path):
    """Open the mailed link: the token moves into the session, the page has its own path."""
    response = client.get(path)
    assert response.status_code == 302, response.content
    assert response["Location"].endswith("/set/")
    return response["Location"]


def set_password(client, page, code=None, password=NEW, again=None):
    data = {"new_password1": password, "new_password2": again or password}
    if code is not None:
        data["code"] = code
    return client.post(page, data)


def go_live(at):
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": at})


def actions(user):
    return list(AuditEvent.objects.filter(subject=user).values_list("action", flat=True))


# --- Wachtwoord wijzigen -------------------------------------------------------


def change(client, code, password=PASSWORD, new=NEW, again=None):
    data = {"password": password, "new_password1": new, "new_password2": again or new}
    if code is not None:
        data["code"] = code
    return client.post(CHANGE, data)


def test_the_padlock_page_links_to_change_password(client, linked_user, frozen_clock):
    login_with_code(client, linked_user)
    assert CHANGE.encode() in client.get(reverse("mfa:enrol")).content


def test_changing_needs_the_current_password_and_a_fresh_code(
    client, linked_user, secret, frozen_clock
):
    login_with_code(client, linked_user)
    wrong_password = change(client, code_at(secret, frozen_clock), password="not-it")
    wrong_code = change(client, "000000" if code_at(secret, frozen_clock) != "000000" else "111111")
    without_code = change(client, None)
    for response in (wrong_password, wrong_code):
        assert response.status_code == 200
        assert response.context["form"].non_field_errors()
    assert without_code.context["form"].has_error("code", "required")
    linked_user.refresh_from_db()
    assert linked_user.check_password(PASSWORD)
    failures = AuditEvent.objects.filter(subject=linked_user, data__step_up=True)
    assert sorted(failures.values_list("action", flat=True)) == [
        Action.CODE_FAILED,
        Action.LOGIN_FAILED,
    ]


def test_a_changed_password_ends_other_sessions_and_this_one_goes_on_with_a_new_key(
    client, linked_user, secret, frozen_clock
):
    login_with_code(client, linked_user)
    other = Client()
    login_with_code(other, linked_user)
    key_before = client.session.session_key
    response = change(client, code_at(secret, frozen_clock))
    assert response.status_code == 302, response.context["form"].errors
    assert client.session.session_key != key_before
    assert client.get(reverse("mfa:enrol")).status_code == 200
    assert other.get(reverse("accounts:home")).status_code == 302  # to the login page
    linked_user.refresh_from_db()
    assert linked_user.check_password(NEW)
    assert {Action.PASSWORD_SET, Action.SESSIONS_ENDED} <= set(actions(linked_user))
    record = AuditEvent.objects.get(subject=linked_user, action=Action.PASSWORD_SET)
    assert record.data == {"password": "set", "via": "change"}
    assert NEW not in json.dumps(record.data)
    assert mail.outbox[-1].to == ["rob@example.org"]
    assert "wachtwoord" in mail.outbox[-1].subject.lower()


def test_without_any_factor_before_go_live_the_password_alone_changes_it(
    client, system_user, frozen_clock
):
    login_with_code(client, system_user)
    page = client.get(CHANGE)
    assert "code" not in page.context["form"].fields
    assert change(client, None).status_code == 302
    system_user.refresh_from_db()
    assert system_user.check_password(NEW)


@pytest.mark.parametrize(
    ("new", "again", "code"),
    [
        ("Kort-1", None, "password_too_short"),
        ("password1234", None, "password_too_common"),
        (NEW, NEW + "x", "password_mismatch"),
    ],
)
def test_the_new_password_gets_a_message_per_problem(
    client, linked_user, secret, frozen_clock, new, again, code
):
    login_with_code(client, linked_user)
    response = change(client, code_at(secret, frozen_clock), new=new, again=again)
    assert response.status_code == 200, response
    assert response.context["form"].has_error("new_password2", code)
    linked_user.refresh_from_db()
    assert linked_user.check_password(PASSWORD)
    assert not AuditEvent.objects.filter(data__step_up=True).exists()  # no attempt spent


def test_a_new_password_like_the_username_is_refused(db):
    """Django's UserAttributeSimilarityValidator; at 12 characters it bites for names of 9
    characters or more."""
    user = User(username="jandewit-backoffice")
    data = {"new_password1": "jandewit-backoffice1", "new_password2": "jandewit-backoffice1"}
    form = NewPasswordForm(user, data, needs_code=False)
    assert form.has_error("new_password2", "password_too_similar")


# --- Wachtwoord vergeten --------------------------------------------------------


def test_the_login_page_links_to_forgot_password(client, db):
    assert FORGOT.encode() in client.get(reverse("accounts:login")).content


@pytest.mark.parametrize(
    ("known", "unknown"), [("rdewit", "nobody"), ("rob@example.org", "x@y.nl")]
)
def test_known_and_unknown_names_get_the_same_answer_byte_for_byte(
    linked_user, frozen_clock, known, unknown
):
    answers = [ask(Client(), name) for name in (known, unknown)]
    assert [answer.status_code for answer in answers] == [200, 200]
    assert CSRF.sub(b"", answers[0].content) == CSRF.sub(b"", answers[1].content)
    assert b'data-testid="password-asked"' in answers[0].content
    assert len(mail.outbox) == 1  # the known person's link, and only that
    assert mail.outbox[0].to == ["rob@example.org"]


def statement(sql):
    """A statement's shape: without the numbers and task ids its values differ in."""
    return re.sub(r"\d+", "N", re.sub(r"'[0-9a-f]{32}'", "ID", sql))


def test_known_and_unknown_names_cost_the_same_statements(linked_user, frozen_clock, monkeypatch):
    """The request never looks the name up: the same SQL for both, the task row included
    (the task finds the person afterwards)."""
    monkeypatch.setattr(passwords, "_enqueue", REAL_ENQUEUE)
    statements = []
    for name in ("rdewit", "nobody"):
        with CaptureQueriesContext(connection) as queries:
            answer = ask(Client(), name)
        assert answer.status_code == 200
        statements.append(
            [
                re.sub(
                    r"\d+", "N", re.sub(r"'[0-9a-f]{32}'", "ID", query["sql"].replace(name, "?"))
                )
                for query in queries
            ]
        )
    assert statements[0] == statements[1]
    assert any("django_tasks_database" in sql for sql in statements[0]), statements[0]
    asked = AuditEvent.objects.filter(action=Action.PASSWORD_RESET_ASKED)
    assert sorted(asked.values_list("subject_name", flat=True)) == ["nobody", "rdewit"]
    assert not asked.filter(subject__isnull=False).exists()
    assert mail.outbox == []  # the task has not run: no lookup happened in the request


def test_asking_is_rate_limited_per_name_known_or_not(client, linked_user, frozen_clock, settings):
    for name in ("rdewit", "nobody"):
        answers = [ask(client, name) for _ in range(settings.MFA_LOCK_AFTER + 1)]
        assert all(b"password-asked" in answer.content for answer in answers[:-1])
        assert answers[-1].context["form"].non_field_errors(), name
    assert len(mail.outbox) == settings.MFA_LOCK_AFTER
    assert LoginThrottle.objects.get(key="rdewit").failures == settings.MFA_LOCK_AFTER


def test_asking_is_rate_limited_per_address_and_ipv6_per_64(
    client, linked_user, frozen_clock, settings
):
    settings.MFA_IP_FAILURES_PER_HOUR = 2
    for name in ("een", "twee"):
        assert b"password-asked" in ask(client, name, REMOTE_ADDR="2001:db8::1").content
    same_block = ask(client, "rdewit", REMOTE_ADDR="2001:db8::ffff")
    assert b"password-asked" not in same_block.content
    assert same_block.context["form"].non_field_errors()
    assert mail.outbox == []
    other_block = ask(client, "rdewit", REMOTE_ADDR="2001:db8:0:1::1")
    assert b"password-asked" in other_block.content
    assert len(mail.outbox) == 1


def test_the_mail_speaks_the_language_of_the_person_asking(client, linked_user, frozen_clock):
    ask(client, "rdewit")
    ask(client, "rdewit", HTTP_ACCEPT_LANGUAGE="en")
    dutch, english = mail.outbox
    assert "wachtwoord" in dutch.subject.lower() and "Beste Rob" in dutch.body
    assert "password" in english.subject.lower() and "Dear Rob" in english.body


def test_an_inactive_account_gets_no_link(client, linked_user, frozen_clock):
    User.objects.filter(pk=linked_user.pk).update(is_active=False)
    assert b"password-asked" in ask(client, "rdewit").content
    assert mail.outbox == []


# --- The link ------------------------------------------------------------------


def test_a_reset_asks_the_second_factor_and_never_signs_in(
    client, linked_user, secret, frozen_clock
):
    other = Client()
    login_with_code(other, linked_user)
    ask(client, "rdewit")
    page = open_link(client, mailed_link())
    assert client.get(page).context["form"].fields["code"].required
    assert set_password(client, page).context["form"].has_error("code", "required")
    wrong = "000000" if code_at(secret, frozen_clock) != "000000" else "111111"
    assert set_password(client, page, code=wrong).context["form"].has_error("code")
    linked_user.refresh_from_db()
    assert linked_user.check_password(PASSWORD)
    assert AuditEvent.objects.filter(
        subject=linked_user, action=Action.CODE_FAILED, data__reset=True
    ).exists()
    done = set_password(client, page, code=code_at(secret, frozen_clock))
    assert done.status_code == 302 and done["Location"] == reverse("accounts:login")
    linked_user.refresh_from_db()
    assert linked_user.check_password(NEW)
    assert "_auth_user_id" not in client.session  # not signed in by the link
    assert other.get(reverse("accounts:home")).status_code == 302  # every session ended
    record = AuditEvent.objects.get(subject=linked_user, action=Action.PASSWORD_SET)
    assert record.data == {"password": "set", "via": "reset"}
    assert AuditEvent.objects.filter(
        subject=linked_user, action=Action.SESSIONS_ENDED, data__reason="password"
    ).exists()
    assert "gewijzigd" in mail.outbox[-1].subject
    login = post_login(client, password=NEW, code=code_at(secret, frozen_clock, 1))
    assert login.status_code == 302


def test_a_recovery_code_stands_in_for_the_app(client, linked_user, frozen_clock):
    codes = recovery.recovery_codes_make(user=linked_user, ip=None, now=frozen_clock)
    ask(client, "rdewit")
    page = open_link(client, mailed_link())
    assert set_password(client, page, code=codes[0]).status_code == 302
    linked_user.refresh_from_db()
    assert linked_user.check_password(NEW)


def test_without_any_factor_before_go_live_the_link_alone_sets_it(
    client, system_user, frozen_clock
):
    ask(client, "rdewit")
    page = open_link(client, mailed_link())
    assert "code" not in client.get(page).context["form"].fields
    assert set_password(client, page).status_code == 302
    system_user.refresh_from_db()
    assert system_user.check_password(NEW)


def test_without_any_factor_after_go_live_a_beheerder_is_needed(client, system_user, frozen_clock):
    go_live(frozen_clock - timedelta(days=1))
    ask(client, "rdewit")
    page = open_link(client, mailed_link())
    for response in (client.get(page), set_password(client, page)):
        assert b'data-testid="link-beheerder"' in response.content
    system_user.refresh_from_db()
    assert system_user.check_password(PASSWORD)


def test_a_passkey_only_person_is_sent_to_a_beheerder(client, system_user, frozen_clock):
    MfaSettings.objects.update_or_create(pk=1, defaults={"passkeys_allowed": True})
    Passkey.objects.create(user=system_user, name="Sleutel", credential_id="c1", public_key=b"k")
    ask(client, "rdewit")
    page = open_link(client, mailed_link())
    assert b'data-testid="link-beheerder"' in set_password(client, page, code="123456").content
    system_user.refresh_from_db()
    assert system_user.check_password(PASSWORD)


def test_the_token_leaves_the_address_bar(client, linked_user, frozen_clock):
    ask(client, "rdewit")
    path = mailed_link()
    page = open_link(client, path)
    assert link_parts(path)[2] not in page


def token_of(user, kind=passwords.RESET_LINK):
    url = passwords.link_url(user=user, kind=kind)
    return link_parts(urlsplit(url).path)


def valid(kind, uid, token):
    return passwords.link_user(kind=kind, uidb64=uid, token=token) is not None


def test_a_link_is_void_after_use(client, linked_user, secret, frozen_clock):
    ask(client, "rdewit")
    path = mailed_link()
    page = open_link(client, path)
    assert set_password(client, page, code=code_at(secret, frozen_clock)).status_code == 302
    assert not valid(*link_parts(path))
    assert b'data-testid="link-void"' in client.get(path).content


def test_a_link_is_void_after_a_newer_link(client, linked_user, frozen_clock):
    ask(client, "rdewit")
    older = mailed_link()
    ask(client, "rdewit")
    assert not valid(*link_parts(older))
    assert valid(*link_parts(mailed_link()))


def test_a_link_is_void_after_a_password_change(linked_user, frozen_clock):
    parts = token_of(linked_user)
    assert valid(*parts)
    linked_user.set_password(NEW)
    linked_user.save()
    assert not valid(*parts)


def test_an_open_page_is_void_once_its_link_was_used_elsewhere(
    client, linked_user, secret, frozen_clock
):
    ask(client, "rdewit")
    path = mailed_link()
    page = open_link(client, path)
    second = Client()
    second_page = open_link(second, path)
    assert set_password(client, page, code=code_at(secret, frozen_clock)).status_code == 302
    late = set_password(second, second_page, code=code_at(secret, frozen_clock, 1))
    assert b'data-testid="link-void"' in late.content
    assert AuditEvent.objects.filter(subject=linked_user, action=Action.PASSWORD_SET).count() == 1


@pytest.mark.parametrize(("kind", "hours"), [(passwords.RESET_LINK, 1), (passwords.SET_LINK, 72)])
def test_a_link_expires(linked_user, frozen_clock, monkeypatch, kind, hours):
    parts = token_of(linked_user, kind)
    move_clock(monkeypatch, frozen_clock + timedelta(hours=hours))
    assert valid(*parts)
    move_clock(monkeypatch, frozen_clock + timedelta(hours=hours, seconds=1))
    assert not valid(*parts)


def test_a_link_of_one_kind_is_not_one_of_the_other(linked_user, frozen_clock):
    _kind, uid, token = token_of(linked_user, passwords.RESET_LINK)
    assert not valid(passwords.SET_LINK, uid, token)


@pytest.mark.parametrize(
    ("kind", "uid", "token"),
    [
        ("reset", "", ""),
        ("reset", "MQ", "x-y"),
        ("other", "MQ", "x-y"),
        ("reset", "!!", "zzzzzzzzzzzzzzzzzzzzz-y"),
        ("reset", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "a-b"),
        ("reset", "LTE", "a-b"),
        ("reset", "w7w", "a-b"),
    ],
)
def test_forged_links_are_void(client, linked_user, frozen_clock, kind, uid, token):
    assert not valid(kind, uid, token)


# --- The beheerder ----------------------------------------------------------------


def test_a_new_system_user_gets_a_link_instead_of_a_password(
    admin_client, admin_user, frozen_clock
):
    person = Person.objects.create(first_name="Nina", last_name="Vos", email="nina@example.org")
    url = reverse("accounts:system_user_edit", args=[person.pk])
    response = admin_client.post(url, {"username": "nvos", "is_active": "on", "send_link": "on"})
    assert response.status_code == 302, response.context["form"].errors
    user = User.objects.get(username="nvos")
    assert not user.has_usable_password()
    path = mailed_link()
    assert path.startswith("/password/set/") and mail.outbox[-1].to == ["nina@example.org"]
    assert "72" in mail.outbox[-1].body
    sent = AuditEvent.objects.get(subject=user, action=Action.PASSWORD_LINK_SENT)
    assert sent.actor == admin_user and sent.data == {"via": "set"}
    person_client = Client()
    page = open_link(person_client, path)
    assert set_password(person_client, page).status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW)


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({}, "password1", "password_or_link"),
        ({"password1": NEW, "password2": NEW, "send_link": "on"}, "send_link", "password_and_link"),
    ],
)
def test_the_system_user_form_wants_a_password_or_a_link(
    admin_client, frozen_clock, data, field, code
):
    person = Person.objects.create(first_name="Nina", last_name="Vos", email="nina@example.org")
    url = reverse("accounts:system_user_edit", args=[person.pk])
    response = admin_client.post(url, {"username": "nvos", "is_active": "on", **data})
    assert response.context["form"].has_error(field, code)
    assert not User.objects.filter(username="nvos").exists()


def test_no_link_for_a_person_without_an_email_address(admin_client, frozen_clock):
    person = Person.objects.create(first_name="Nina", last_name="Vos")
    url = reverse("accounts:system_user_edit", args=[person.pk])
    response = admin_client.post(url, {"username": "nvos", "is_active": "on", "send_link": "on"})
    assert response.context["form"].has_error("send_link", "no_email")


def test_a_beheerder_sends_a_link_to_an_existing_user(admin_client, linked_user, frozen_clock):
    url = reverse("accounts:system_user_edit", args=[linked_user.person.pk])
    data = {"username": "rdewit", "is_active": "on", "send_link": "on"}
    assert admin_client.post(url, data).status_code == 302
    assert mailed_link().startswith("/password/set/")
    linked_user.refresh_from_db()
    assert linked_user.check_password(PASSWORD)  # unchanged until the person uses the link


def test_a_password_typed_by_a_beheerder_is_audited_and_ends_the_sessions(
    admin_client, admin_user, linked_user, frozen_clock
):
    person_client = Client()
    login_with_code(person_client, linked_user)
    url = reverse("accounts:system_user_edit", args=[linked_user.person.pk])
    data = {"username": "rdewit", "is_active": "on", "password1": NEW, "password2": NEW}
    assert admin_client.post(url, data).status_code == 302
    assert person_client.get(reverse("accounts:home")).status_code == 302
    record = AuditEvent.objects.get(subject=linked_user, action=Action.PASSWORD_SET)
    assert record.actor == admin_user and record.data == {"password": "set"}
    assert admin_client.get(reverse("accounts:home")).status_code == 200


# --- Hostile input on the page a link opens ------------------------------------------

ODD = ["", "\x00", "a\x00b", "¹²³", "١٢٣٤٥٦", "𝟙𝟚𝟛𝟜𝟝𝟞", "x" * 100_000, "<script>", "9" * 5000]
odd = st.one_of(st.sampled_from(ODD), st.text(max_size=40))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_input_on_the_link_page_changes_nothing(linked_user, frozen_clock, data):
    client = Client()
    page = open_link(client, urlsplit(passwords.link_url(user=linked_user, kind="reset")).path)
    fields = {name: data.draw(odd) for name in ("new_password1", "new_password2", "code")}
    response = client.post(page, fields)
    assert response.status_code == 200
    linked_user.refresh_from_db()
    assert linked_user.check_password(PASSWORD)


def test_a_passkey_only_person_is_sent_to_a_beheerder_to_change_it(
    client, system_user, frozen_clock
):
    MfaSettings.objects.update_or_create(pk=1, defaults={"passkeys_allowed": True})
    Passkey.objects.create(user=system_user, name="Sleutel", credential_id="c1", public_key=b"k")
    login_with_code(client, system_user)
    for response in (client.get(CHANGE), change(client, "123456")):
        assert b'data-testid="password-beheerder"' in response.content
    system_user.refresh_from_db()
    assert system_user.check_password(PASSWORD)


def test_a_link_used_meanwhile_sets_nothing(linked_user, secret, frozen_clock):
    """Two uses of one link at once: the token is checked again under the row's lock, so
    the second, which read the person before the first committed, changes nothing."""
    kind, uid, token = token_of(linked_user)
    stale = User.objects.get(pk=linked_user.pk)
    first = {"code": code_at(secret, frozen_clock), "new_password": NEW}
    second = {"code": code_at(secret, frozen_clock, 1), "new_password": "Another-long-secret-9"}
    common = {"kind": kind, "token": token, "ip": None, "now": frozen_clock}
    passwords.password_reset(user=linked_user, **first, **common)
    with pytest.raises(AccountError) as refused:
        passwords.password_reset(user=stale, **second, **common)
    assert refused.value.code == "link_void"
    linked_user.refresh_from_db()
    assert linked_user.check_password(NEW)


def test_a_link_sets_nothing_for_a_person_without_a_factor_after_go_live(system_user, frozen_clock):
    """The service's own guard, for a factor that ended while the page was open."""
    kind, _uid, token = token_of(system_user)
    go_live(frozen_clock - timedelta(days=1))
    with pytest.raises(AccountError) as refused:
        passwords.password_reset(
            user=system_user,
            kind=kind,
            token=token,
            new_password=NEW,
            code="",
            ip=None,
            now=frozen_clock,
        )
    assert refused.value.code == "ask_beheerder"
    system_user.refresh_from_db()
    assert system_user.check_password(PASSWORD)


def test_a_new_password_has_a_length_limit(db):
    long = "Violet-lantern-" + "x" * 1024
    form = NewPasswordForm(User(username="rdewit"), {"new_password1": long, "new_password2": long})
    assert form.has_error("new_password1", "max_length")


def test_the_history_says_how_a_password_was_set(client, linked_user, secret, frozen_clock):
    ask(client, "rdewit")
    page = open_link(client, mailed_link())
    set_password(client, page, code=code_at(secret, frozen_clock))
    described = {
        event.action: event.describe() for event in AuditEvent.objects.filter(subject=linked_user)
    }
    assert described[Action.PASSWORD_LINK_SENT] == "via een herstellink per mail"
    assert described[Action.PASSWORD_SET] == "wachtwoord ingesteld, via een herstellink per mail"
    assert "wachtwoord gewijzigd" in described[Action.SESSIONS_ENDED]


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_one_link_used_twice_at_once_sets_one_password(frozen_now):
    from mfa import totp
    from tests.helpers import at_once, link

    person = Person.objects.create(first_name="Race", last_name="Link", email="race@example.org")
    user = User.objects.create_user("linkrace", PASSWORD, person=person)
    secret = totp.new_secret()
    link(user, frozen_now - timedelta(minutes=1), secret=secret)
    kind, _uid, token = token_of(user)
    choices = [NEW, "Another-long-secret-9"]
    # two second factors that both hold: only the link's one use can stop the second
    codes = [
        code_at(secret, frozen_now),
        recovery.recovery_codes_make(user=user, ip=None, now=frozen_now)[0],
    ]

    def use(index):
        try:
            passwords.password_reset(
                user=User.objects.get(pk=user.pk),
                kind=kind,
                token=token,
                new_password=choices[index],
                code=codes[index],
                ip=None,
                now=frozen_now,
            )
        except AccountError as error:
            return error.code
        return "set"

    results = at_once(use, 2)
    assert sorted(results) == ["link_void", "set"], results
    assert AuditEvent.objects.filter(subject=user, action=Action.PASSWORD_SET).count() == 1
    user.refresh_from_db()
    assert user.check_password(choices[results.index("set")])


def test_a_new_password_ends_the_trust_of_the_other_marked_browsers(
    client, linked_user, secret, frozen_clock
):
    from mfa.models import DeviceMark

    stranger = Client()
    assert post_login(stranger, code=code_at(secret, frozen_clock)).status_code == 302
    strangers_mark = DeviceMark.objects.get(user=linked_user)
    assert post_login(client, code=code_at(secret, frozen_clock, 1)).status_code == 302
    own_mark = DeviceMark.objects.exclude(pk=strangers_mark.pk).get(user=linked_user)
    code = recovery.recovery_codes_make(user=linked_user, ip=None, now=frozen_clock)[0]
    assert change(client, code).status_code == 302
    assert list(DeviceMark.objects.filter(user=linked_user)) == [own_mark]
