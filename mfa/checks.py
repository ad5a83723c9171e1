"""Django system checks for every MFA_* setting: `manage.py check` (and every start of
the server) names a wrong value and says why, before anyone meets it at login.

One check function, registered in MfaConfig.ready; each rule has its own id, so a test
can ask for exactly one. A key is never printed, only its position in the list.
"""

import ipaddress
from collections.abc import Iterable, Sequence
from typing import TypeGuard
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error

from . import network, totp
from .models import MAX_DEVICES_CEILING, RECOVERY_CODES_CEILING

# The most steps either side of now a code may come from: each step more is another
# valid code an attacker may guess (RFC 6238 section 6 recommends at most one).
TOTP_WINDOW_CEILING = 2

# (setting, least, most or None, id, what the number counts)
WHOLE_NUMBERS: tuple[tuple[str, int, int | None, str, str], ...] = (
    ("MFA_LOCK_AFTER", 1, None, "mfa.E004", "failed attempts before an account name locks"),
    ("MFA_LOCK_MAX_SECONDS", 1, None, "mfa.E005", "the longest lock, in seconds"),
    ("MFA_ATTEMPT_SECONDS", 1, None, "mfa.E006", "seconds an attempt at the lock holds it"),
    ("MFA_IP_FAILURES_PER_HOUR", 1, None, "mfa.E007", "failed logins per client IP per hour"),
    ("MFA_STEP_UP_SECONDS", 1, None, "mfa.E008", "seconds a step-up lasts"),
    ("MFA_WEBAUTHN_CHALLENGE_SECONDS", 1, None, "mfa.E011", "seconds a challenge lasts"),
    ("MFA_REMINDER_INTERVAL_HOURS", 1, None, "mfa.E012", "hours between two reminders"),
    ("MFA_BANNER_FIXED_DAYS", 0, None, "mfa.E013", "days the banner cannot be hidden"),
    (
        "MFA_MAX_DEVICES",
        1,
        MAX_DEVICES_CEILING,
        "mfa.E014",
        f"devices per person (the database has {MAX_DEVICES_CEILING} slots)",
    ),
    (
        "MFA_RECOVERY_CODES",
        1,
        RECOVERY_CODES_CEILING,
        "mfa.E015",
        f"recovery codes in a set (the database numbers at most {RECOVERY_CODES_CEILING})",
    ),
    (
        "MFA_TOTP_WINDOW",
        0,
        TOTP_WINDOW_CEILING,
        "mfa.E016",
        f"steps of {totp.STEP_SECONDS} s accepted either side of now",
    ),
)


def settings_check(app_configs: Sequence[AppConfig] | None, **kwargs: object) -> list[CheckMessage]:
    """Every MFA_* setting, each against its own rule."""
    errors: list[CheckMessage] = []
    for name, least, most, check_id, counts in WHOLE_NUMBERS:
        errors += _whole_number(name, least, most, check_id, counts)
    errors += _ip_limit_above_lock()
    errors += _issuer()
    errors += _encryption_keys()
    errors += _trusted_proxies()
    errors += _webauthn()
    return errors


def _whole(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _whole_number(
    name: str, least: int, most: int | None, check_id: str, counts: str
) -> list[CheckMessage]:
    value = getattr(settings, name, None)
    if _whole(value) and least <= value and (most is None or value <= most):
        return []
    bounds = f"at least {least}" if most is None else f"from {least} to {most}"
    return [
        Error(f"{name} is {value!r}: it must be a whole number {bounds} ({counts}).", id=check_id)
    ]


def _ip_limit_above_lock() -> list[CheckMessage]:
    """One person's wrong attempts must lock their own name before they block everyone
    behind the same address (an office behind one NAT)."""
    per_ip = getattr(settings, "MFA_IP_FAILURES_PER_HOUR", None)
    lock_after = getattr(settings, "MFA_LOCK_AFTER", None)
    if not (_whole(per_ip) and _whole(lock_after)) or per_ip >= lock_after:
        return []  # right, or not numbers (E004 and E007 say so)
    return [
        Error(
            f"MFA_IP_FAILURES_PER_HOUR ({per_ip}) is below MFA_LOCK_AFTER ({lock_after}): "
            "one person's wrong attempts would block everyone behind the same address "
            "before their own account name locks.",
            id="mfa.E018",
        )
    ]


def _issuer() -> list[CheckMessage]:
    value = getattr(settings, "MFA_ISSUER", None)
    if isinstance(value, str) and totp.issuer_clean(value):
        return []
    return [
        Error(
            f"MFA_ISSUER is {value!r}: authenticator apps need a name to show, "
            "other than colons and spaces.",
            id="mfa.E001",
        )
    ]


def _strings(name: str) -> list[str] | None:
    """The setting as a list of strings, or None when it is not one."""
    value = getattr(settings, name, None)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return list(value)
    return None


def _encryption_keys() -> list[CheckMessage]:
    keys = _strings("MFA_ENCRYPTION_KEYS")
    if keys is None:
        return [Error("MFA_ENCRYPTION_KEYS must be a list of Fernet keys (text).", id="mfa.E002")]
    errors: list[CheckMessage] = []
    for position, key in enumerate(keys):
        try:
            Fernet(key)
        except ValueError:
            errors.append(
                Error(
                    f"MFA_ENCRYPTION_KEYS[{position}] is not a Fernet key "
                    "(32 bytes, url-safe base64).",
                    hint="Make one with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'",
                    id="mfa.E002",
                )
            )
    return errors


def _trusted_proxies() -> list[CheckMessage]:
    proxies = _strings("MFA_TRUSTED_PROXIES")
    if proxies is None:
        return [Error("MFA_TRUSTED_PROXIES must be a list of networks.", id="mfa.E003")]
    errors: list[CheckMessage] = []
    for proxy in proxies:
        try:
            network.parse_network(proxy)
        except ValueError:
            errors.append(
                Error(
                    f"MFA_TRUSTED_PROXIES holds {proxy!r}, which is not a network "
                    "(an address, or one in CIDR notation such as 10.0.0.0/8).",
                    id="mfa.E003",
                )
            )
    return errors


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _webauthn() -> list[CheckMessage]:
    rp_id = getattr(settings, "MFA_WEBAUTHN_RP_ID", None)
    if not isinstance(rp_id, str) or not rp_id or _is_ip(rp_id) or "/" in rp_id or ":" in rp_id:
        return [
            Error(
                f"MFA_WEBAUTHN_RP_ID is {rp_id!r}: it must be the site's domain name "
                "(an IP address or a URL is no relying party ID).",
                id="mfa.E009",
            )
        ]
    origins = _strings("MFA_WEBAUTHN_ORIGINS")
    if not origins:
        return [
            Error(
                "MFA_WEBAUTHN_ORIGINS must list at least one origin (https://host[:port]).",
                id="mfa.E010",
            )
        ]
    return [
        Error(f"MFA_WEBAUTHN_ORIGINS holds {origin!r}: {why}.", id=check_id)
        for origin, why, check_id in _origin_faults(origins, rp_id)
    ]


def _origin_faults(origins: Iterable[str], rp_id: str) -> list[tuple[str, str, str]]:
    """(origin, why, check id) for each origin a browser would not sign for under `rp_id`."""
    faults = []
    for origin in origins:
        try:
            parts = urlsplit(origin)
            parts.port  # noqa: B018 - raises ValueError for a port that is no number
        except ValueError:
            faults.append((origin, "it is not a URL", "mfa.E010"))
            continue
        if parts.scheme not in ("https", "http") or not parts.hostname:
            faults.append((origin, "an origin is https://host[:port]", "mfa.E010"))
        elif parts.path not in ("", "/") or parts.query or parts.fragment:
            faults.append((origin, "an origin has no path, query or fragment", "mfa.E010"))
        elif parts.hostname != rp_id and not parts.hostname.endswith("." + rp_id):
            why = f"its host is not MFA_WEBAUTHN_RP_ID ({rp_id}) or a subdomain of it"
            faults.append((origin, why, "mfa.E017"))
    return faults
