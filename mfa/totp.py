"""TOTP arithmetic (RFC 6238 on top of RFC 4226), pure: no database, no clock.

Callers pass `now` (a datetime or Unix seconds) so that tests pin the time.
"""

import base64
import hmac
import secrets
from datetime import datetime
from urllib.parse import quote

import pyotp

# Not settings: every linked app was set up with these (the otpauth URI carries them),
# and most apps know no others; changing them would silently unlink every device.
STEP_SECONDS = 30  # RFC 6238 section 4: X = 30, T0 = 0
DIGITS = 6
SECRET_BYTES = 20  # 160 bits, the HMAC-SHA1 block recommendation of RFC 4226 section 4


def new_secret() -> str:
    """A fresh base32 secret without padding: 32 characters."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def step_at(now: datetime | float) -> int:
    seconds = now.timestamp() if isinstance(now, datetime) else now
    return int(seconds // STEP_SECONDS)


def code_at_step(secret: str, step: int) -> str:
    # RFC 6238 section 4.2: TOTP = HOTP(K, T) with T the step counter.
    return str(pyotp.HOTP(secret, digits=DIGITS).at(step))


def normalize_code(raw: str | None) -> str | None:
    """'123456' or '123 456' -> '123456'; anything else -> None."""
    value = (raw or "").strip()
    if len(value) == DIGITS + 1 and value[DIGITS // 2] == " ":
        value = value.replace(" ", "", 1)
    if len(value) == DIGITS and value.isascii() and value.isdigit():
        return value
    return None


def matching_step(secret: str, code: str, now: datetime | float, *, window: int) -> int | None:
    """The step within `window` steps either side of now whose code equals `code`, or
    None (RFC 6238 section 6; callers pass MFA_TOTP_WINDOW).

    Every candidate is compared in constant time, and all of them are computed,
    so the time taken does not depend on which step (if any) matched.
    """
    current = step_at(now)
    found = None
    for step in range(current - window, current + window + 1):
        if hmac.compare_digest(code_at_step(secret, step), code):
            found = step
    return found


def issuer_clean(issuer: str) -> str:
    """The issuer as apps show it: the Key Uri Format's label cannot hold a ':'."""
    return issuer.replace(":", "").strip()


def otpauth_uri(secret: str, account: str, issuer: str) -> str:
    """Key URI for authenticator apps (Google's Key Uri Format).

    `account` is a username, which holds no ':' (a database constraint).
    """
    issuer = issuer_clean(issuer)
    label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
    return (
        f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer, safe='')}"
        f"&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
    )


def grouped(secret: str, size: int = 3) -> str:
    """The key in readable groups, as the manual shows it: 'J5R XU0 CWI ...'."""
    return " ".join(secret[i : i + size] for i in range(0, len(secret), size))
