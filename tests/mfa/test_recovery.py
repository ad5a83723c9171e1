"""Recovery codes: a person who loses the phone gets back in, once per code, through the
Toegangscode field of the one-screen login."""

import math
import re
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Person, User
from audit.models import AuditEvent
from mfa import login, recovery
from mfa.login import LoginStatus
from mfa.models import Device, LoginThrottle, MfaSettings, RecoveryCode
from tests.helpers import PASSWORD, at_once, code_at, confirmed, link, login_with_code, post_login

Action = AuditEvent.Action
ENROL = reverse("mfa:enrol")
MAKE = reverse("mfa:recovery_make")


def make_codes(client):
    html = client.post(MAKE, follow=True).content.decode()
    return re.findall(r"<code>([A-Z2-9]{5}-[A-Z2-9]{5})</code>", html)


# --- The codes themselves ----------------------------------------------------


def test_ten_codes_of_ten_unambiguous_characters():
    codes = recovery.new_codes(10)
    assert len(codes) == 10 == len(set(codes))
    for code in codes:
        assert len(code) == 10 and set(code) <= set(recovery.ALPHABET)
    assert not set("0O1IL") & set(recovery.ALPHABET) and len(recovery.ALPHABET) == 31
    assert math.log2(len(recovery.ALPHABET) ** recovery.LENGTH) > 49.5
    assert recovery.shown("ABCDEFGHJK") == "ABCDE-FGHJK"


@pytest.mark.parametrize(
    "typed", ["ABCDE-FGHJK", "abcde-fghjk", " ABCDEFGHJK ", "abc de-fg hjk", "AbCdEfGhJk"]
)
def test_a_code_is_read_with_or_without_dash_in_any_case(typed):
    assert recovery.normalize(typed) == "ABCDEFGHJK"


@pytest.mark.parametrize(
    "typed", ["ABCDE-FGHJ", "ABCDE-FGHJKL", "ABCDE-FGHJ0", "ABCD1-FGHJK", "", None]
)
def test_anything_else_is_no_code(typed):
    assert recovery.normalize(typed) is None


# --- Making a set -------------------------------------------------------------


def test_codes_are_made_after_step_up_shown_once_and_stored_as_hmacs(client, linked_user):
    login_with_code(client, linked_user)
    assert client.post(MAKE).status_code == 302  # no step-up: refused
    assert not RecoveryCode.objects.exists()
    confirmed(client, linked_user)
    response = client.post(MAKE, follow=True)
    codes = re.findall(r"<code>([A-Z2-9]{5}-[A-Z2-9]{5})</code>", response.content.decode())
    assert len(codes) == 10 and "no-store" in response["Cache-Control"]
    stored = repr(list(RecoveryCode.objects.values_list()))
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored
        assert code.replace("-", "") not in str(dict(client.session))
    padlock = client.get(ENROL).content.decode()
    assert "10 van 10 herstelcodes ongebruikt" in padlock and codes[0] not in padlock
    event = AuditEvent.objects.get(action=Action.RECOVERY_MADE)
    assert event.data == {"count": 10}


def test_right_after_linking_the_first_app_the_green_message_offers_codes(user_client, system_user):
    from tests.helpers import shown_key

    key = shown_key(user_client.get(ENROL))
    page = user_client.post(ENROL, {"code": code_at(key, timezone.now())}, follow=True)
    html = page.content.decode()
    assert "Maak nu herstelcodes" in html and 'action="/mfa/recovery-codes/"' in html
    assert len(make_codes(user_client)) == 10


def test_a_new_set_makes_the_old_one_stop_working(client, linked_user):
    confirmed(client, linked_user)
    old = make_codes(client)
    new = make_codes(client)
    now = timezone.now()
    result = login.login_attempt(
        username="rdewit", password=PASSWORD, code=old[0], ip=None, now=now
    )
    assert result.status is LoginStatus.FAILED
    result = login.login_attempt(
        username="rdewit", password=PASSWORD, code=new[0], ip=None, now=now
    )
    assert result.status is LoginStatus.OK
    assert AuditEvent.objects.filter(action=Action.RECOVERY_INVALIDATED).count() == 1


def test_codes_survive_a_key_rotation(client, linked_user, settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.MFA_ENCRYPTION_KEYS = [old_key]
    confirmed(client, linked_user)
    codes = make_codes(client)
    settings.MFA_ENCRYPTION_KEYS = [new_key, old_key]
    result = login.login_attempt(
        username="rdewit", password=PASSWORD, code=codes[3], ip=None, now=timezone.now()
    )
    assert result.status is LoginStatus.OK


def test_the_download_is_the_set_just_shown_and_nothing_else(client, linked_user):
    confirmed(client, linked_user)
    codes = make_codes(client)
    response = client.post(reverse("mfa:recovery_download"), {"code": codes})
    assert response["Content-Disposition"].startswith("attachment")
    assert all(code in response.content.decode() for code in codes)
    forged = client.post(reverse("mfa:recovery_download"), {"code": [*codes[:9], "ABCDE-FGHJK"]})
    assert forged.status_code == 400
    assert client.post(reverse("mfa:recovery_download"), {"code": ["<script>"]}).status_code == 400


# --- Logging in with a code ------------------------------------------------------


def test_a_recovery_code_in_toegangscode_logs_in_once(
    client, linked_user, django_capture_on_commit_callbacks
):
    confirmed(client, linked_user)
    codes = make_codes(client)
    client.logout()
    typed = codes[2].lower().replace("-", " ")
    data = {"username": "rdewit", "password": PASSWORD, "code": typed}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:login"), data, follow=True)
    html = response.content.decode()
    assert 'data-testid="current-user">Rob de Wit<' in html
    assert "U bent ingelogd met een herstelcode; u heeft nog 9 ongebruikte codes." in html
    assert "Telefoon kwijt?" in html
    used = AuditEvent.objects.get(action=Action.RECOVERY_USED)
    assert used.data == {"number": 3} and codes[2] not in str(used.data)
    assert any("Herstelcode 3" in message.body for message in mail.outbox)
    client.logout()
    again = post_login(client, code=codes[2])
    assert again.context["form"].has_error("__all__", "invalid_login")


def test_a_wrong_recovery_code_answers_like_a_wrong_access_code(client, linked_user):
    bodies = set()
    for code in ("000000", "ABCDE-FGHJK"):
        body = post_login(client, code=code).content.decode()
        bodies.add(re.sub(r'value="[^"]*"', "", body))
    assert len(bodies) == 1
    assert LoginThrottle.objects.get(key="rdewit").failures == 2  # one budget for both kinds


def test_a_recovery_code_works_from_anywhere_and_outlives_the_go_live(client, linked_user):
    confirmed(client, linked_user)
    codes = make_codes(client)
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": timezone.now()})
    client.logout()
    assert post_login(client, code=codes[0], REMOTE_ADDR="198.51.100.9").status_code == 302
    assert client.get("/").status_code == 200  # a session with a second factor


def test_f2_recovery_codes_end_with_the_temporary_access_they_backed(
    client, admin_user, system_user
):
    """Issue 18 F2: the beheerder's temporary app until now + 2 min, codes made with it;
    after its end and the go-live the codes are void, audited, and link nothing."""
    now = timezone.now()
    link(
        system_user,
        now - timedelta(minutes=1),
        by=admin_user,
        expires_at=now + timedelta(minutes=2),
    )
    confirmed(client, system_user)
    codes = make_codes(client)
    later = now + timedelta(minutes=3)
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": later})
    result = login.login_attempt(
        username="rdewit", password=PASSWORD, code=codes[0], ip=None, now=later
    )
    assert result.status is LoginStatus.FAILED
    assert not RecoveryCode.objects.exists()
    voided = AuditEvent.objects.get(action=Action.RECOVERY_INVALIDATED)
    assert voided.data == {"count": len(codes), "reason": "expired"}
    assert not AuditEvent.objects.filter(action=Action.RECOVERY_USED).exists()


def test_after_a_recovery_login_the_lost_phone_is_replaced_without_waiting(client, linked_user):
    """Log in with a code, link a new app at once, remove the lost one with another code."""
    confirmed(client, linked_user)
    codes = make_codes(client)
    client.logout()
    post_login(client, code=codes[0])
    from tests.helpers import shown_key

    key = shown_key(client.get(ENROL))
    assert key  # linking is open: the code was a fresh second factor
    client.post(ENROL, {"code": code_at(key, timezone.now())})
    lost = Device.objects.get(user=linked_user, name="Apparaat 1")
    client.post(reverse("mfa:device_remove"), {"device": lost.pk})
    assert list(Device.objects.filter(user=linked_user).values_list("secret_encrypted", flat=True))
    assert not Device.objects.filter(pk=lost.pk).exists()


def test_unlinking_invalidates_the_codes(admin_client, linked_user):
    codes = make_codes(confirmed(Client(), linked_user))
    admin_client.post(reverse("mfa:admin_unlink", args=[linked_user.person.pk]))
    assert not RecoveryCode.objects.exists()
    assert AuditEvent.objects.filter(action=Action.RECOVERY_INVALIDATED).exists()
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": timezone.now()})
    result = login.login_attempt(
        username="rdewit", password=PASSWORD, code=codes[0], ip=None, now=timezone.now()
    )
    assert result.status is LoginStatus.FAILED
    assert not AuditEvent.objects.filter(action=Action.RECOVERY_USED).exists()


def test_break_glass_unlink_invalidates_the_codes(client, linked_user):
    from django.core.management import call_command

    confirmed(client, linked_user)
    make_codes(client)
    call_command("mfa", "unlink", "rdewit", "--reason", "phone and codes stolen")
    assert not RecoveryCode.objects.exists()


# --- What a beheerder sees ----------------------------------------------------------


def test_the_user_tab_and_report_show_how_many_codes_are_left_never_the_codes(
    admin_client, linked_user
):
    codes = make_codes(confirmed(Client(), linked_user))
    for code in codes[:3]:
        login.login_attempt(
            username="rdewit", password=PASSWORD, code=code, ip=None, now=timezone.now()
        )
    tab = admin_client.get(
        reverse("accounts:person_detail", args=[linked_user.person.pk]), {"tab": "user"}
    ).content.decode()
    assert "Herstelcodes: 7 van 10 ongebruikt" in tab
    assert not any(code in tab or code.replace("-", "") in tab for code in codes)
    report = reverse("reports:report", args=["personen-met-mfa"])
    response = admin_client.get(report)
    column = [c.header for c in response.context["report"].columns].index("Herstelcodes_ongebruikt")
    rob = next(cells for row, cells in response.context["rows"] if row["last_name"] == "Wit")
    assert rob[column] == "7"
    nobody = admin_client.get(report, {"show": "no_recovery"}).context["rows"]
    assert [row["last_name"] for row, _cells in nobody] == ["Boetzkes"]


# --- At the same moment -----------------------------------------------------------


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_logins_with_one_recovery_code_let_exactly_one_in():
    person = Person.objects.create(first_name="Race", last_name="Recovery")
    user = User.objects.create_user("recoveryrace", PASSWORD, person=person)
    link(user, timezone.now() - timedelta(minutes=2))
    code = recovery.recovery_codes_make(user=user, ip=None, now=timezone.now())[0]

    def attempt(_index):
        return login.login_attempt(
            username="recoveryrace", password=PASSWORD, code=code, ip=None, now=timezone.now()
        ).status

    results = at_once(attempt, 8)
    assert [status.value for status in results].count("ok") == 1  # the rest: failed or locked
    assert RecoveryCode.objects.filter(used_at__isnull=False).count() == 1


# --- The codes' page: made by POST, shown on GET (issue 22, item 1) -------------------


def test_a_reload_shows_the_same_codes_and_never_makes_new_ones(client, linked_user):
    confirmed(client, linked_user)
    made = client.post(MAKE)
    assert made.status_code == 302 and made["Location"] == MAKE
    codes = make_codes_shown(client)
    assert len(codes) == 10 and make_codes_shown(client) == codes
    assert RecoveryCode.objects.count() == 10
    assert AuditEvent.objects.filter(action=Action.RECOVERY_MADE).count() == 1
    assert "no-store" in client.get(MAKE)["Cache-Control"]
    # the download still takes the set on the page
    download = client.post(reverse("mfa:recovery_download"), {"code": codes})
    assert download.status_code == 200 and codes[0] in download.content.decode()


def test_after_leaving_the_page_it_says_the_codes_were_shown(client, linked_user):
    confirmed(client, linked_user)
    codes = make_codes(client)
    client.get(ENROL)
    page = client.get(MAKE).content.decode()
    assert 'data-testid="recovery-shown"' in page and codes[0] not in page
    assert make_codes_shown(client) == []
    assert RecoveryCode.objects.count() == 10


def test_a_set_made_elsewhere_voids_the_one_kept_for_the_page(client, linked_user):
    confirmed(client, linked_user)
    make_codes(client)
    recovery.recovery_codes_make(user=linked_user, ip=None, now=timezone.now())
    assert make_codes_shown(client) == []


def test_opened_directly_without_a_set_it_says_so(client, linked_user):
    login_with_code(client, linked_user)
    response = client.get(MAKE)
    assert response.status_code == 200
    assert 'data-testid="recovery-shown"' in response.content.decode()


def make_codes_shown(client):
    html = client.get(MAKE).content.decode()
    return re.findall(r"<code>([A-Z2-9]{5}-[A-Z2-9]{5})</code>", html)
