"""Passkeys (WebAuthn) next to the authenticator app: adding one after step-up, signing in
with it alone, and every refusal: wrong challenge, wrong origin, replayed assertion,
unknown credential, counter going back, switched off."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Person, User
from audit.models import AuditEvent
from mfa import passkeys, recovery, stepup
from mfa.errors import MfaError
from mfa.factors import has_mfa
from mfa.models import Device, MfaSettings, Passkey, WebAuthnChallenge
from tests.helpers import PASSWORD, at_once, confirmed, link, login_with_code
from tests.webauthn_soft import SoftAuthenticator

Action = AuditEvent.Action
ORIGIN = "http://localhost:8000"


@pytest.fixture(autouse=True)
def webauthn_site(settings):
    settings.MFA_WEBAUTHN_RP_ID = "localhost"
    settings.MFA_WEBAUTHN_ORIGINS = [ORIGIN]


@pytest.fixture
def allowed(db):
    MfaSettings.objects.update_or_create(pk=1, defaults={"passkeys_allowed": True})


def post_json(client, name, body=None):
    return client.post(
        reverse(name), json.dumps(body or {}), content_type="application/json", HTTP_ORIGIN=ORIGIN
    )


def add_passkey(client, authenticator, name="Laptop"):
    options = post_json(client, "mfa:passkey_options").json()["options"]
    credential = authenticator.create(options)
    return post_json(client, "mfa:passkey_add", {"name": name, "credential": credential})


@pytest.fixture
def rob_with_passkey(allowed, linked_user):
    authenticator = SoftAuthenticator(origin=ORIGIN)
    response = add_passkey(confirmed(Client(), linked_user), authenticator)
    assert response.status_code == 200, response.content
    return authenticator


def sign_in(client, authenticator, **options):
    """The browser's half of "Inloggen met passkey": (status, JSON)."""
    challenge = post_json(client, "mfa:passkey_login_options").json()["options"]
    assertion = authenticator.get(challenge, **options)
    response = post_json(
        client, "mfa:passkey_login", {"credential": assertion, "next": "/persons/"}
    )
    return response.status_code, response.json()


# --- Adding ---------------------------------------------------------------------------


def test_a_passkey_is_added_after_step_up_and_named(
    allowed, client, linked_user, django_capture_on_commit_callbacks
):
    login_with_code(client, linked_user)
    assert post_json(client, "mfa:passkey_options").status_code == 403  # no step-up
    confirmed(client, linked_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = add_passkey(client, SoftAuthenticator(origin=ORIGIN), name="YubiKey")
    assert response.json() == {"redirect": "/mfa/"}
    passkey = Passkey.objects.get()
    assert passkey.name == "YubiKey" and passkey.user == linked_user
    linked_user.refresh_from_db()
    assert linked_user.passkey_handle and linked_user.username not in linked_user.passkey_handle
    assert str(linked_user.pk) != linked_user.passkey_handle
    assert AuditEvent.objects.get(action=Action.PASSKEY_ADDED).data == {"passkey": "YubiKey"}
    assert mail.outbox and "YubiKey" in mail.outbox[-1].body
    page = client.get(reverse("mfa:enrol")).content.decode()
    assert 'value="YubiKey"' in page  # listed, and renamed there


def test_the_options_ask_for_a_discoverable_credential_with_user_verification(
    allowed, client, linked_user
):
    options = post_json(confirmed(client, linked_user), "mfa:passkey_options").json()["options"]
    selection = options["authenticatorSelection"]
    assert selection["residentKey"] == "required" and selection["userVerification"] == "required"
    assert options["rp"]["id"] == "localhost"
    assert options["user"]["name"] == "rdewit" and options["user"]["id"] != "rdewit"


@pytest.mark.parametrize(
    "spoil",
    ["origin", "challenge", "unverified"],
)
def test_a_registration_that_does_not_hold_is_refused(allowed, client, linked_user, spoil):
    confirmed(client, linked_user)
    options = post_json(client, "mfa:passkey_options").json()["options"]
    authenticator = SoftAuthenticator(origin=ORIGIN)
    if spoil == "origin":
        credential = authenticator.create(options, origin="https://evil.example")
    elif spoil == "challenge":
        credential = authenticator.create({**options, "challenge": "AAAAAAAAAAAAAAAAAAAAAA"})
    else:
        credential = authenticator.create(options, verified=False)
    response = post_json(client, "mfa:passkey_add", {"name": "Laptop", "credential": credential})
    assert response.status_code == 400 and "kon niet worden toegevoegd" in response.json()["error"]
    assert not Passkey.objects.exists()


def test_a_beheerder_cannot_add_a_passkey_for_someone_else(allowed, admin_client, system_user):
    """The endpoints only ever act on the logged-in person: there is no one else to name."""
    confirmed(admin_client, User.objects.get(username="beheerder"))
    link(User.objects.get(username="beheerder"), timezone.now())
    response = add_passkey(admin_client, SoftAuthenticator(origin=ORIGIN))
    assert response.status_code == 200
    assert not Passkey.objects.filter(user=system_user).exists()


# --- Signing in ---------------------------------------------------------------------------


def test_a_passkey_signs_in_alone_and_counts_as_a_second_factor(rob_with_passkey, client):
    status, body = sign_in(client, rob_with_passkey)
    assert status == 200 and body == {"redirect": "/persons/"}
    assert client.session["mfa_auth_method"] == Action.LOGIN_PASSKEY
    MfaSettings.objects.update(go_live_at=timezone.now())
    assert client.get("/").status_code == 200  # outlives the go-live
    assert AuditEvent.objects.filter(action=Action.LOGIN_PASSKEY).count() == 1


def test_a_replayed_assertion_is_refused(rob_with_passkey, client):
    challenge = post_json(client, "mfa:passkey_login_options").json()["options"]
    assertion = rob_with_passkey.get(challenge)
    first = post_json(client, "mfa:passkey_login", {"credential": assertion})
    assert first.status_code == 200
    replay = post_json(Client(), "mfa:passkey_login", {"credential": assertion})
    assert replay.status_code == 400 and "Inloggen mislukt" in replay.json()["error"]


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        ({"origin": "https://evil.example"}, "origin"),
        ({"verified": False}, "user_verification"),
        ({"user_handle": "AAAA"}, "user_handle"),
    ],
)
def test_an_assertion_that_does_not_hold_is_refused_and_recorded(
    rob_with_passkey, client, spoil, reason
):
    status, body = sign_in(client, rob_with_passkey, **spoil)
    assert status == 400 and "Inloggen mislukt" in body["error"]
    assert AuditEvent.objects.get(action=Action.PASSKEY_FAILED).data == {"reason": reason}
    assert "_auth_user_id" not in client.session


def test_a_wrong_challenge_is_refused(rob_with_passkey, client):
    post_json(client, "mfa:passkey_login_options")
    assertion = rob_with_passkey.get({"challenge": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
    response = post_json(client, "mfa:passkey_login", {"credential": assertion})
    assert response.status_code == 400
    assert AuditEvent.objects.get(action=Action.PASSKEY_FAILED).data == {"reason": "challenge"}


def test_a_challenge_expires_after_five_minutes(rob_with_passkey, client):
    challenge = post_json(client, "mfa:passkey_login_options").json()["options"]
    WebAuthnChallenge.objects.update(created_at=timezone.now() - timedelta(minutes=6))
    response = post_json(
        client, "mfa:passkey_login", {"credential": rob_with_passkey.get(challenge)}
    )
    assert response.status_code == 400
    assert AuditEvent.objects.get(action=Action.PASSKEY_FAILED).data == {"reason": "challenge"}


def test_an_unknown_credential_is_refused(rob_with_passkey, client):
    stranger = SoftAuthenticator(origin=ORIGIN)
    stranger.create({"challenge": "AAAA", "user": {"id": "AAAA"}})
    status, _body = sign_in(client, stranger)
    assert status == 400
    assert AuditEvent.objects.get(action=Action.PASSKEY_FAILED).data == {
        "reason": "unknown_credential"
    }


def test_a_counter_that_goes_back_is_refused_as_a_possible_clone(rob_with_passkey, client):
    assert sign_in(client, rob_with_passkey, counter=5)[0] == 200
    assert sign_in(Client(), rob_with_passkey, counter=5)[0] == 400
    assert sign_in(Client(), rob_with_passkey, counter=3)[0] == 400
    clones = AuditEvent.objects.filter(action=Action.PASSKEY_CLONED)
    assert [clone.data["known"] for clone in clones.order_by("id")] == [5, 5]
    assert sign_in(Client(), rob_with_passkey, counter=6)[0] == 200


def test_an_authenticator_without_a_counter_signs_in_again_and_again(rob_with_passkey):
    rob_with_passkey.keeps_counter = False
    for _ in range(3):
        assert sign_in(Client(), rob_with_passkey)[0] == 200


def test_passkeys_switched_off_cannot_sign_in_or_be_added(rob_with_passkey, client, linked_user):
    MfaSettings.objects.update(passkeys_allowed=False)
    assert post_json(client, "mfa:passkey_login_options").status_code == 403
    assert "Inloggen met passkey" not in client.get(reverse("accounts:login")).content.decode()
    assert post_json(confirmed(Client(), linked_user), "mfa:passkey_options").status_code == 403


def test_a_sign_in_begun_before_the_switch_went_off_is_refused(rob_with_passkey, client):
    challenge = post_json(client, "mfa:passkey_login_options").json()["options"]
    MfaSettings.objects.update(passkeys_allowed=False)
    response = post_json(
        client, "mfa:passkey_login", {"credential": rob_with_passkey.get(challenge)}
    )
    assert response.status_code == 400 and "_auth_user_id" not in client.session
    assert AuditEvent.objects.get(action=Action.PASSKEY_FAILED).data == {"reason": "passkeys_off"}


def test_failed_sign_ins_count_in_the_per_ip_limit(rob_with_passkey, client, settings):
    settings.MFA_IP_FAILURES_PER_HOUR = 3
    for _ in range(3):
        assert sign_in(Client(), rob_with_passkey, origin="https://evil.example")[0] == 400
    assert sign_in(client, rob_with_passkey)[0] == 400  # the right passkey: this IP is blocked


def test_a_disabled_system_user_cannot_sign_in_with_a_passkey(rob_with_passkey, linked_user):
    User.objects.filter(pk=linked_user.pk).update(is_active=False)
    assert sign_in(Client(), rob_with_passkey)[0] == 400
    assert AuditEvent.objects.get(action=Action.PASSKEY_FAILED).data == {"reason": "inactive"}


# --- "Has MFA", removing, the beheerder ------------------------------------------------------


def test_a_passkey_alone_counts_as_mfa_while_passkeys_are_allowed(rob_with_passkey, linked_user):
    Device.objects.filter(user=linked_user).delete()
    assert has_mfa(linked_user, timezone.now())
    MfaSettings.objects.update(passkeys_allowed=False)
    assert not has_mfa(linked_user, timezone.now())


def test_removing_a_passkey_needs_the_pages_confirmation(rob_with_passkey, linked_user, secret):
    from tests.helpers import confirmed

    client = login_with_code(Client(), linked_user)
    passkey = Passkey.objects.get()
    url = reverse("mfa:passkey_remove")
    client.post(url, {"passkey": passkey.pk})
    assert Passkey.objects.exists()  # not confirmed: refused
    confirmed(client, linked_user)
    client.post(url, {"passkey": passkey.pk})
    assert not Passkey.objects.exists()
    assert AuditEvent.objects.filter(action=Action.PASSKEY_REMOVED).exists()


def test_the_beheerders_unlink_removes_apps_and_passkeys(
    rob_with_passkey, admin_client, linked_user
):
    url = reverse("mfa:admin_unlink", args=[linked_user.person.pk])
    page = admin_client.get(url).content.decode()
    assert "Laptop (passkey" in page and "Apparaat 1" in page
    admin_client.post(url)
    assert not Passkey.objects.exists() and not Device.objects.exists()
    assert sign_in(Client(), rob_with_passkey)[0] == 400


def test_the_report_counts_apps_and_passkeys_and_filters_with_passkey(
    rob_with_passkey, admin_client
):
    response = admin_client.get(reverse("reports:report", args=["personen-met-mfa"]))
    headers = [c.header for c in response.context["report"].columns]
    rob = next(cells for row, cells in response.context["rows"] if row["last_name"] == "Wit")
    assert rob[headers.index("Aantal_apparaten")] == "1"
    assert rob[headers.index("Aantal_passkeys")] == "1"
    with_passkey = admin_client.get(
        reverse("reports:report", args=["personen-met-mfa"]), {"show": "with_passkey"}
    )
    assert [row["last_name"] for row, _c in with_passkey.context["rows"]] == ["Wit"]


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_sign_ins_with_one_assertion_let_one_in(settings):
    MfaSettings.objects.update_or_create(pk=1, defaults={"passkeys_allowed": True})
    user = User.objects.create_user(
        "passrace", PASSWORD, person=Person.objects.create(first_name="P", last_name="Race")
    )
    link(user, timezone.now() - timedelta(minutes=2))
    authenticator = SoftAuthenticator(origin=ORIGIN)
    options, challenge = passkeys.passkey_register_options(user=user, now=timezone.now())
    passkeys.passkey_add(
        user=user,
        credential=authenticator.create(options),
        challenge=challenge,
        name="Laptop",
        ip=None,
        now=timezone.now(),
    )
    options, challenge = passkeys.passkey_login_options(now=timezone.now())
    assertion = authenticator.get(options)

    def sign_in(_index):
        return passkeys.passkey_login(
            credential=assertion, challenge=challenge, ip=None, now=timezone.now()
        ).status.value

    results = at_once(sign_in, 6)
    assert results.count("ok") == 1


# --- Records, counters, names and the last way in ------------------------------------------


@pytest.fixture
def fixed_now(monkeypatch):
    """The server's clock stands still (the audit's `at` and last_login can be compared)."""
    from livits import clock

    moment = timezone.now().replace(microsecond=0)
    monkeypatch.setattr(clock, "now", lambda: moment)
    return moment


def test_sign_ins_and_refusals_are_recorded_in_full(rob_with_passkey, linked_user, fixed_now):
    assert sign_in(Client(), rob_with_passkey)[0] == 200
    assert sign_in(Client(), rob_with_passkey, origin="https://evil.example")[0] == 400
    signed_in, refused = AuditEvent.objects.filter(
        action__in=[Action.LOGIN_PASSKEY, Action.PASSKEY_FAILED]
    ).order_by("pk")
    assert (signed_in.action, signed_in.subject, signed_in.ip, signed_in.at) == (
        Action.LOGIN_PASSKEY,
        linked_user,
        "127.0.0.1",
        fixed_now,
    )
    assert (refused.action, refused.subject, refused.ip, refused.at) == (
        Action.PASSKEY_FAILED,
        None,
        "127.0.0.1",
        fixed_now,
    )
    assert refused.data["reason"]
    linked_user.refresh_from_db()
    assert linked_user.last_login == fixed_now
    assert Passkey.objects.get().last_used_at == fixed_now


def test_the_service_answers_failed_to_every_refusal(rob_with_passkey, settings):
    from mfa.login import LoginStatus

    def attempt(ip="192.0.2.7", **spoil):
        options, challenge = passkeys.passkey_login_options(now=timezone.now())
        credential = rob_with_passkey.get(options, **spoil)
        return passkeys.passkey_login(
            credential=credential, challenge=challenge, ip=ip, now=timezone.now()
        ).status

    assert attempt(counter=5) is LoginStatus.OK
    assert attempt(counter=4) is LoginStatus.FAILED  # the counter went back
    assert attempt(origin="https://evil.example") is LoginStatus.FAILED  # refused
    settings.MFA_IP_FAILURES_PER_HOUR = 2
    assert attempt(counter=9) is LoginStatus.FAILED  # this IP has failed twice this hour
    assert attempt(ip="192.0.2.8", counter=9) is LoginStatus.OK


def test_a_counter_that_falls_back_to_zero_is_refused(rob_with_passkey, linked_user, fixed_now):
    assert sign_in(Client(), rob_with_passkey, counter=1)[0] == 200
    assert sign_in(Client(), rob_with_passkey, counter=0)[0] == 400
    clone = AuditEvent.objects.get(action=Action.PASSKEY_CLONED)
    assert (clone.subject, clone.ip, clone.at) == (linked_user, "127.0.0.1", fixed_now)
    assert clone.data == {"passkey": "Laptop", "count": 0, "known": 1}


def test_the_options_leave_out_the_persons_passkeys_and_keep_one_handle(rob_with_passkey):
    stale = [User.objects.get(username="rdewit") for _ in range(2)]
    User.objects.filter(pk=stale[0].pk).update(passkey_handle=None)
    stale = [User.objects.get(username="rdewit") for _ in range(2)]  # both without a handle
    first: Any
    second: Any
    first, _challenge = passkeys.passkey_register_options(user=stale[0], now=timezone.now())
    second, _challenge = passkeys.passkey_register_options(user=stale[1], now=timezone.now())
    assert first["user"]["id"] == second["user"]["id"]  # the second did not overwrite it
    assert first["user"]["displayName"] == "Rob de Wit"
    assert [entry["id"] for entry in first["excludeCredentials"]] == [
        Passkey.objects.get().credential_id
    ]


def test_a_passkey_is_renamed_on_the_padlock_page_and_a_taken_name_refused(
    rob_with_passkey, linked_user
):
    client = confirmed(Client(), linked_user)
    assert add_passkey(client, SoftAuthenticator(origin=ORIGIN), name="YubiKey").status_code == 200
    laptop, yubikey = Passkey.objects.order_by("pk")
    client.post(reverse("mfa:passkey_rename", args=[yubikey.pk]), {"name": "Sleutelbos"})
    renamed = AuditEvent.objects.get(action=Action.PASSKEY_RENAMED)
    assert (renamed.subject, renamed.actor, renamed.ip) == (linked_user, linked_user, "127.0.0.1")
    assert renamed.data == {"old": "YubiKey", "new": "Sleutelbos"}
    response = client.post(
        reverse("mfa:passkey_rename", args=[yubikey.pk]), {"name": "Laptop"}, follow=True
    )
    assert "U heeft al een apparaat met deze naam." in response.content.decode()
    assert Passkey.objects.get(pk=yubikey.pk).name == "Sleutelbos"
    assert AuditEvent.objects.filter(action=Action.PASSKEY_RENAMED).count() == 1
    laptop = passkeys.passkey_rename(passkey=laptop, name="Werklaptop", by=linked_user, ip=None)
    assert laptop.name == "Werklaptop"  # what the page says it is now


def test_removing_a_passkey_is_recorded_and_mailed(
    rob_with_passkey, linked_user, secret, django_capture_on_commit_callbacks
):
    from django.utils import formats, translation

    now = timezone.now() - timedelta(hours=3)  # the moment the service is given, not the clock
    Device.objects.update(last_used_step=0)
    passkey = Passkey.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        stepup.factor_remove_own(thing=passkey, ip="192.0.2.7", now=now)
    with translation.override("nl"):
        when = formats.date_format(timezone.localtime(now), "SHORT_DATETIME_FORMAT")
    removed = AuditEvent.objects.get(action=Action.PASSKEY_REMOVED)
    assert (removed.subject, removed.actor, removed.ip, removed.at) == (
        linked_user,
        linked_user,
        "192.0.2.7",
        now,
    )
    assert removed.data == {"passkey": "Laptop"}
    assert mail.outbox[-1].subject == "Livits: er is een passkey van uw account verwijderd"
    assert f"Op {when} is een passkey (Laptop) van uw account verwijderd." in mail.outbox[-1].body


def test_after_the_go_live_the_last_way_in_stays_and_a_removed_one_is_gone(
    rob_with_passkey, linked_user, secret
):
    now = timezone.now()
    MfaSettings.objects.update(go_live_at=now - timedelta(days=1))
    recovery.recovery_codes_make(user=linked_user, ip=None, now=now)  # codes are no way in
    passkey = Passkey.objects.get()

    def remove():
        stepup.factor_remove_own(thing=passkey, ip=None, now=now)

    Device.objects.filter(user=linked_user).delete()  # the passkey is the last way in
    with pytest.raises(MfaError) as refused:
        remove()
    assert refused.value.code == "last_device_after_go_live"
    assert Passkey.objects.filter(pk=passkey.pk).exists()
    link(linked_user, now - timedelta(minutes=1), secret=secret)  # with an app again: it may go
    remove()
    assert not Passkey.objects.exists()
    with pytest.raises(MfaError) as refused:
        remove()
    assert refused.value.code == "gone"
