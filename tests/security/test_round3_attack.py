"""An outsider's attack on the security round of issue 18 (browser marks, budgets, the
factors decision, session ends, the network rules). The probes that held pass; the five
holes it found (H1-H5: a name with the browser separator, break-glass unlink sparing a
beheerder-app session, sessions outliving temporary access, trusted locations stored
before the rules, a forwarded address with a port) are fixed and pass too."""

from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.core import signing
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from audit.models import AuditEvent
from mfa.marks import COOKIE
from mfa.models import DeviceMark, LoginThrottle, MfaSettings, Passkey, TrustedLocation
from mfa.network import client_ip_from
from tests.helpers import PASSWORD
from tests.security.test_round3_holes import (
    RECOVERY_CODE,
    app_of,
    code_at,
    login,
    server_clock,  # noqa: F401 - a fixture
    signed_in,
)

__all__ = ["server_clock"]
OUTSIDER = "203.0.113.66"
MARK_SALT = "livits.mfa.browser-mark"  # mfa.marks' own, as a shared browser's cookie has it


def owner_browser(secret, now):
    """The owner's browser after one sign-in with password and code: it carries her mark."""
    owner = Client()
    assert login(owner, code=code_at(secret, now)).status_code == 302
    assert owner.cookies[COOKIE].value
    owner.post("/logout/")
    return owner


def locked_out_unmarked(now_clock):
    outsider = Client()
    for _ in range(6):
        login(outsider, password="wrong", REMOTE_ADDR=OUTSIDER)
    assert LoginThrottle.objects.get(key="rdewit").locked_until > now_clock.now


# --- Browser marks that held --------------------------------------------------------------


def test_a_forged_mark_cookie_counts_as_no_mark(system_user, secret, server_clock):
    app_of(system_user, secret)
    mark = owner_browser(secret, server_clock.now)  # a real mark exists (id and token)
    record = DeviceMark.objects.get()
    locked_out_unmarked(server_clock)
    forger = Client()
    entries = [["rdewit", record.pk, record.token]]
    forger.cookies[COOKIE] = signing.dumps(entries, salt="guessed", compress=True)
    assert login(forger, code=code_at(secret, server_clock.now, 1)).status_code == 200
    # the real owner's browser is not locked
    assert login(mark, code=code_at(secret, server_clock.now, 1)).status_code == 302


def test_a_mark_of_another_person_does_not_carry_over(
    system_user, admin_user, secret, server_clock
):
    """Mallory signs in as herself, then uses her marked browser against Rob's name: her
    mark is hers, so Rob's unmarked lock holds for her browser too."""
    app_of(system_user, secret)
    mallory_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    app_of(admin_user, mallory_secret)
    mallory = Client()
    now = server_clock.now
    assert login(mallory, "beheerder", code=code_at(mallory_secret, now)).status_code == 302
    mallory.post("/logout/")
    locked_out_unmarked(server_clock)
    assert login(mallory, code=code_at(secret, server_clock.now, 1)).status_code == 200
    assert not signed_in(mallory)


def test_a_mark_filed_under_another_name_in_the_cookie_counts_as_no_mark(
    system_user, admin_user, secret, server_clock
):
    """Even a cookie signed with the server's key (a shared browser's, say) that files
    Mallory's mark under Rob's name gives Rob's budget nothing: a mark is its person's."""
    app_of(system_user, secret)
    mallory_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    app_of(admin_user, mallory_secret)
    mallory = Client()
    now = server_clock.now
    assert login(mallory, "beheerder", code=code_at(mallory_secret, now)).status_code == 302
    mallory.post("/logout/")
    record = DeviceMark.objects.get(user=admin_user)
    swapped = [["rdewit", record.pk, record.token]]
    mallory.cookies[COOKIE] = signing.dumps(swapped, salt=MARK_SALT, compress=True)
    locked_out_unmarked(server_clock)
    assert login(mallory, code=code_at(secret, server_clock.now, 1)).status_code == 200
    assert not signed_in(mallory)


def test_a_forgotten_mark_counts_as_no_mark(system_user, secret, server_clock):
    app_of(system_user, secret)
    owner = owner_browser(secret, server_clock.now)
    DeviceMark.objects.all().delete()  # "Vergeten"
    locked_out_unmarked(server_clock)
    assert login(owner, code=code_at(secret, server_clock.now, 1)).status_code == 200


def test_a_cookie_with_many_marks_keeps_at_most_ten(system_user, secret, server_clock):
    app_of(system_user, secret)
    browser = Client()
    many = [[f"name{n}", n, "x" * 43] for n in range(500)]
    browser.cookies[COOKIE] = signing.dumps(many, salt=MARK_SALT, compress=True)
    response = login(browser, code=code_at(secret, server_clock.now, 1))
    assert response.status_code == 302
    kept = signing.loads(response.cookies[COOKIE].value, salt=MARK_SALT)
    assert len(kept) == 10 and kept[0][0] == "rdewit"


# --- Browser marks: the hole --------------------------------------------------------------


def test_a_name_with_the_separator_cannot_lock_the_owners_marked_browser(
    system_user, secret, server_clock
):
    app_of(system_user, secret)
    owner = owner_browser(secret, server_clock.now)
    mark_id = DeviceMark.objects.get().pk  # small and counting: guessed in a few tries
    outsider = Client()
    for _ in range(6):
        login(outsider, username=f"rdewit#{mark_id}", password="wrong", REMOTE_ADDR=OUTSIDER)
    assert login(owner, code=code_at(secret, server_clock.now, 1)).status_code == 302


# --- Sessions -----------------------------------------------------------------------------


@pytest.mark.parametrize("by_beheerder", [True, False], ids=["beheerders app", "own app"])
def test_break_glass_unlink_ends_every_session(
    system_user, admin_user, secret, server_clock, by_beheerder
):
    """The shell's unlink spares no session: neither one opened with the app a beheerder
    linked (manual 4.2, no end given) nor one opened with the person's own app."""
    app_of(system_user, secret, **({"linked_by": admin_user} if by_beheerder else {}))
    browser = Client()
    assert login(browser, code=code_at(secret, server_clock.now, 1)).status_code == 302
    call_command("mfa", "unlink", "rdewit", "--reason", "telefoon gestolen")
    assert not signed_in(browser)


def test_the_recovery_codes_end_when_passkeys_are_switched_off(
    admin_user, system_user, secret, server_clock
):
    from mfa import crypto, recovery
    from mfa.models import RecoveryCode

    MfaSettings.objects.update_or_create(pk=1, defaults={"passkeys_allowed": True})
    Passkey.objects.create(user=system_user, name="Sleutel", credential_id="c1", public_key=b"k")
    digest = recovery.digest(RECOVERY_CODE, crypto.recovery_keys()[0])
    RecoveryCode.objects.create(user=system_user, number=1, digest=digest)
    app_of(admin_user, secret)
    beheerder = Client()
    assert (
        login(beheerder, "beheerder", code=code_at(secret, server_clock.now, 1)).status_code == 302
    )
    beheerder.post("/mfa/settings/passkeys/", {"passkeys_allowed": ""})
    assert not MfaSettings.load().passkeys_allowed
    assert not RecoveryCode.objects.filter(user=system_user).exists()
    person = Client()
    assert login(person, code=RECOVERY_CODE).status_code == 302  # no factor, before go-live
    assert AuditEvent.objects.filter(action="login_without_device").exists()
    assert not AuditEvent.objects.filter(action="login_recovery").exists()


# --- Ways in beside the decision ----------------------------------------------------------


def test_authenticate_lets_nobody_in(system_user):
    assert authenticate(username="rdewit", password=PASSWORD) is None


def test_the_django_admin_login_signs_nobody_in(system_user):
    User.objects.filter(pk=system_user.pk).update(is_staff=True, is_superuser=True)
    client = Client()
    response = client.post("/admin/login/", {"username": "rdewit", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not signed_in(client)


# --- Addresses ----------------------------------------------------------------------------


def test_an_ipv4_mapped_client_shares_the_limit_of_its_ipv4_address(
    system_user, settings, server_clock
):
    settings.MFA_IP_FAILURES_PER_HOUR = 3
    for n in range(3):
        login(Client(), username=f"nobody{n}", password="wrong", REMOTE_ADDR="::ffff:198.51.100.9")
    assert login(Client(), REMOTE_ADDR="198.51.100.9").status_code == 200


def test_a_forwarded_for_from_an_untrusted_peer_is_never_believed(
    system_user, settings, server_clock
):
    settings.MFA_IP_FAILURES_PER_HOUR = 3
    for n in range(3):
        login(
            Client(),
            username=f"nobody{n}",
            password="wrong",
            REMOTE_ADDR="198.51.100.9",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    blocked = Client()
    response = login(blocked, REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert response.status_code == 200


@pytest.mark.parametrize("entry", ["198.51.100.7:4321", "[2001:db8::7]:4321"])
def test_a_forwarded_for_entry_with_a_port_never_makes_the_proxy_the_client(entry):
    assert client_ip_from("10.0.0.1", entry, ["10.0.0.1"]) != "10.0.0.1"


def test_recovery_codes_after_the_last_app_ends_before_the_go_live(
    system_user, admin_user, secret, server_clock
):
    """Before the go-live a person without a factor gets in with the password alone; a
    recovery code of the ended app is no second factor then either (audited as such)."""
    from mfa import crypto, recovery
    from mfa.models import RecoveryCode

    start = server_clock.now
    app_of(system_user, secret, linked_by=admin_user, expires_at=start + timedelta(minutes=2))
    digest = recovery.digest(RECOVERY_CODE, crypto.recovery_keys()[0])
    RecoveryCode.objects.create(user=system_user, number=1, digest=digest)
    server_clock.move(minutes=3)
    browser = Client()
    login(browser, code=RECOVERY_CODE)
    assert not AuditEvent.objects.filter(action="login_recovery").exists()
    assert not RecoveryCode.objects.filter(user=system_user).exists()


def test_a_step_up_with_a_recovery_code_lasts_as_long_as_the_passkey_it_backs(
    system_user, admin_user, frozen_now
):
    from mfa import crypto, passkeys, recovery, stepup
    from mfa.models import RecoveryCode

    MfaSettings.objects.update_or_create(pk=1, defaults={"passkeys_allowed": True})
    Passkey.objects.create(user=system_user, name="Sleutel", credential_id="c1", public_key=b"k")
    second = "FGHJK23456"
    for number, code in enumerate([RECOVERY_CODE, second], start=1):
        digest = recovery.digest(code, crypto.recovery_keys()[0])
        RecoveryCode.objects.create(user=system_user, number=number, digest=digest)

    def step_up(code):
        return stepup.step_up(
            user=system_user, password=PASSWORD, code=code, ip=OUTSIDER, now=frozen_now
        )

    assert step_up(RECOVERY_CODE)  # a passkey-only person: the code backs the passkey
    assert not step_up(RECOVERY_CODE)  # once
    passkeys.passkeys_allow(allowed=False, by=admin_user, ip=None, now=frozen_now)
    assert not step_up(second)  # no factor left: the codes went with it


@pytest.mark.parametrize("way_in", ["recovery code", "trusted location"])
def test_a_session_opened_beside_a_temporary_app_ends_with_it(
    system_user, admin_user, secret, server_clock, way_in
):
    """The person's only factor is the temporary app a beheerder linked (manual 4.2); a
    session opened with a recovery code that backs it, or from the office, must not
    outlive it."""
    from mfa import crypto, recovery
    from mfa.models import RecoveryCode, TrustedLocation

    start = server_clock.now
    app_of(system_user, secret, linked_by=admin_user, expires_at=start + timedelta(minutes=2))
    digest = recovery.digest(RECOVERY_CODE, crypto.recovery_keys()[0])
    RecoveryCode.objects.create(user=system_user, number=1, digest=digest)
    TrustedLocation.objects.create(name="Kantoor", network="192.0.2.0/24")
    browser = Client()
    if way_in == "recovery code":
        assert login(browser, code=RECOVERY_CODE).status_code == 302
    else:
        assert login(browser, REMOTE_ADDR="192.0.2.10").status_code == 302
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": start + timedelta(hours=1)})
    server_clock.move(hours=2)  # the temporary access ended long ago, and MFA is live
    assert not signed_in(browser)


@pytest.mark.parametrize(
    ("network", "client"),
    [
        ("2001::/32", "2001:0:4136:e378:8000:63bf:3fff:fdd2"),  # every Teredo client
        ("64:ff9b::/96", "64:ff9b::c633:6407"),  # every IPv4 client behind NAT64/SIIT
    ],
)
def test_a_network_stored_before_the_round_that_holds_ipv4_space_trusts_nobody(
    system_user, secret, server_clock, network, client
):
    app_of(system_user, secret)
    TrustedLocation.objects.create(name="Van vroeger", network=network)
    browser = Client()
    assert login(browser, REMOTE_ADDR=client).status_code == 200
    assert not signed_in(browser)


def test_a_huge_or_garbled_mark_cookie_is_ignored(system_user, secret, server_clock):
    app_of(system_user, secret)
    browser = Client()
    browser.cookies[COOKIE] = "x" * 60_000 + ":" + "y" * 43
    response = login(browser, code=code_at(secret, server_clock.now))
    assert response.status_code == 302
    assert len(response.cookies[COOKIE].value) < 1000  # the new cookie holds one mark
