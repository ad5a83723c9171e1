"""mfa/checks.py: `manage.py check` names every wrong MFA_* value, each under its own id."""

import pytest
from cryptography.fernet import Fernet
from django.core import checks

from mfa.checks import settings_check


def ids():
    return [message.id for message in settings_check(None)]


def test_the_settings_as_shipped_pass():
    assert ids() == []


def test_the_check_runs_with_manage_py_check(settings):
    settings.MFA_LOCK_AFTER = 0
    assert "mfa.E004" in [message.id for message in checks.run_checks()]


def test_an_issuer_of_only_colons_and_spaces(settings):
    settings.MFA_ISSUER = " : "
    assert ids() == ["mfa.E001"]


def test_an_encryption_key_that_is_no_fernet_key_is_named_by_position_not_shown(settings):
    settings.MFA_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), "kort-en-geheim"]
    messages = settings_check(None)
    assert [message.id for message in messages] == ["mfa.E002"]
    assert "MFA_ENCRYPTION_KEYS[1]" in messages[0].msg
    assert "kort-en-geheim" not in messages[0].msg


def test_encryption_keys_that_are_no_list(settings):
    settings.MFA_ENCRYPTION_KEYS = Fernet.generate_key().decode()  # one string, not a list
    assert ids() == ["mfa.E002"]


def test_a_trusted_proxy_that_is_no_network(settings):
    settings.MFA_TRUSTED_PROXIES = ["10.0.0.0/8", "10.0.0.0/33"]
    assert ids() == ["mfa.E003"]


@pytest.mark.parametrize(
    ("name", "wrong", "right", "check_id"),
    [
        ("MFA_LOCK_AFTER", 0, 1, "mfa.E004"),
        ("MFA_LOCK_MAX_SECONDS", 0, 1, "mfa.E005"),
        ("MFA_ATTEMPT_SECONDS", "60", 1, "mfa.E006"),
        ("MFA_IP_FAILURES_PER_HOUR", True, 5, "mfa.E007"),
        ("MFA_STEP_UP_SECONDS", -1, 1, "mfa.E008"),
        ("MFA_WEBAUTHN_CHALLENGE_SECONDS", 0.5, 1, "mfa.E011"),
        ("MFA_REMINDER_INTERVAL_HOURS", 0, 1, "mfa.E012"),
        ("MFA_BANNER_FIXED_DAYS", -1, 0, "mfa.E013"),
        ("MFA_MAX_DEVICES", 6, 5, "mfa.E014"),
        ("MFA_MAX_DEVICES", 0, 1, "mfa.E014"),
        ("MFA_RECOVERY_CODES", 11, 10, "mfa.E015"),
        ("MFA_RECOVERY_CODES", 0, 1, "mfa.E015"),
        ("MFA_TOTP_WINDOW", 3, 2, "mfa.E016"),
        ("MFA_TOTP_WINDOW", -1, 0, "mfa.E016"),
    ],
)
def test_a_number_out_of_its_range_and_the_edge_inside_it(settings, name, wrong, right, check_id):
    setattr(settings, name, wrong)
    messages = settings_check(None)
    assert [message.id for message in messages] == [check_id]
    assert name in messages[0].msg and repr(wrong) in messages[0].msg
    setattr(settings, name, right)
    assert ids() == []


@pytest.mark.parametrize("rp_id", ["", "127.0.0.1", "https://livits.example.org"])
def test_a_relying_party_id_that_is_no_domain(settings, rp_id):
    settings.MFA_WEBAUTHN_RP_ID = rp_id
    assert ids() == ["mfa.E009"]


@pytest.mark.parametrize(
    "origins",
    [
        [],
        ["livits.example.org"],
        ["ftp://livits.example.org"],
        ["https://livits.example.org/login"],
        ["https://livits.example.org:port"],
    ],
)
def test_origins_that_are_no_origins(settings, origins):
    settings.MFA_WEBAUTHN_RP_ID = "livits.example.org"
    settings.MFA_WEBAUTHN_ORIGINS = origins
    assert ids() == ["mfa.E010"]


def test_an_origin_outside_the_relying_party(settings):
    settings.MFA_WEBAUTHN_RP_ID = "livits.example.org"
    settings.MFA_WEBAUTHN_ORIGINS = ["https://crm.livits.example.org", "https://example.org"]
    messages = settings_check(None)
    assert [message.id for message in messages] == ["mfa.E017"]
    assert "'https://example.org'" in messages[0].msg


def test_an_ip_limit_below_the_lock_would_lock_out_the_office(settings):
    settings.MFA_LOCK_AFTER = 5
    settings.MFA_IP_FAILURES_PER_HOUR = 4
    assert ids() == ["mfa.E018"]
    settings.MFA_IP_FAILURES_PER_HOUR = 5
    assert ids() == []
