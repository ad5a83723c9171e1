"""The MFA knobs that were constants: MFA_MAX_DEVICES, MFA_RECOVERY_CODES and
MFA_TOTP_WINDOW decide what they say, and the texts that state a limit take it from
the setting or constant."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import translation

from livits import clock
from mfa import forms, login, recovery, totp
from mfa.errors import MfaError
from mfa.fields import CODE_OR_RECOVERY_HELP, FORMAT_ERRORS
from mfa.forms import CODE_ERRORS
from mfa.login import LoginStatus
from mfa.models import Device
from tests.helpers import PASSWORD, code_at, link


def test_max_devices_is_the_setting(system_user, frozen_now, settings):
    settings.MFA_MAX_DEVICES = 2
    link(system_user, frozen_now)
    link(system_user, frozen_now + timedelta(minutes=1))
    with pytest.raises(MfaError) as refused:
        link(system_user, frozen_now + timedelta(minutes=2))
    assert refused.value.code == "too_many_devices"
    assert Device.objects.count() == 2
    with translation.override("en"):
        assert str(CODE_ERRORS["too_many_devices"]) == (
            "You cannot link more than 2 devices. Remove one first."
        )
    with translation.override("nl"):
        assert "niet meer dan 2 apparaten" in str(CODE_ERRORS["too_many_devices"])


def test_a_set_of_recovery_codes_has_the_settings_count(linked_user, frozen_now, settings):
    settings.MFA_RECOVERY_CODES = 3
    codes = recovery.recovery_codes_make(user=linked_user, ip=None, now=frozen_now)
    assert len(codes) == 3 == recovery.recovery_status(linked_user)["unused"]


@pytest.mark.parametrize(("window", "accepted"), [(0, False), (1, True)])
def test_the_totp_window_is_the_setting(
    linked_user, secret, frozen_now, settings, window, accepted
):
    settings.MFA_TOTP_WINDOW = window
    result = login.login_attempt(
        username="rdewit",
        password=PASSWORD,
        code=code_at(secret, frozen_now, steps=-1),  # the code of the step before
        ip=None,
        now=frozen_now,
    )
    assert (result.status is LoginStatus.OK) is accepted


def test_the_code_texts_say_the_step_of_the_totp_module(client, system_user, monkeypatch):
    monkeypatch.setattr(totp, "STEP_SECONDS", 60)  # read when shown, not copied
    client.force_login(system_user)
    html = client.get(reverse("mfa:enrol")).content.decode()
    assert "60 seconden geldig" in html
    with translation.override("en"):
        assert "every 60 seconds" in str(CODE_ERRORS["invalid_code"])


def test_the_code_texts_say_the_digits_of_the_totp_module(db, client, monkeypatch):
    monkeypatch.setattr(totp, "DIGITS", 8)  # read when shown, not copied
    html = client.get(reverse("accounts:login")).content.decode()
    assert "De 8 cijfers uit uw authenticator-app, of een van uw herstelcodes." in html
    with translation.override("nl"):
        assert str(FORMAT_ERRORS["invalid_format"]) == (
            "Vul de 8 cijfers van de toegangscode uit uw authenticator-app in."
        )
        assert str(FORMAT_ERRORS["invalid_format_or_recovery"]).startswith("Vul de 8 cijfers")
    with translation.override("en"):
        assert str(CODE_OR_RECOVERY_HELP).startswith("The 8 digits from your authenticator app")


def test_the_reminder_page_says_the_settings_interval(
    admin_client, system_user, settings, frozen_now, monkeypatch
):
    monkeypatch.setattr(clock, "now", lambda: frozen_now)
    settings.MFA_REMINDER_INTERVAL_HOURS = 12
    system_user.mfa_reminded_at = frozen_now - timedelta(hours=11)
    system_user.save(update_fields=["mfa_reminded_at"])
    html = admin_client.get(reverse("mfa:reminders")).content.decode()
    assert "minder dan 12 uur geleden herinnerd" in html


def test_the_go_live_bounds_in_the_message_are_the_constants(monkeypatch):
    monkeypatch.setattr(forms, "GO_LIVE_LATEST", datetime(2200, 1, 1, tzinfo=UTC))
    with translation.override("nl"):
        assert str(CODE_ERRORS["go_live_out_of_range"]) == (
            "Vul een moment van livegang in tussen 1-1-2000 en 1-1-2200."
        )
