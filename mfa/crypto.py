"""Encryption of TOTP secrets at rest (Fernet, keys rotate), and the keys of the
recovery codes' HMAC.

MFA_ENCRYPTION_KEYS holds Fernet keys: the first encrypts, all decrypt. Without
it (development only, settings refuse this when DEBUG is off) one key is derived
from SECRET_KEY. Each of them also yields an HMAC key for recovery codes: new
codes are stored under the first, codes are recognised under every one, so the
codes outlive a key rotation like the secrets do.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def _keys() -> tuple[str, ...]:
    if settings.MFA_ENCRYPTION_KEYS:
        return tuple(settings.MFA_ENCRYPTION_KEYS)
    derived = hashlib.sha256(b"livits-mfa-secrets:" + settings.SECRET_KEY.encode()).digest()
    return (base64.urlsafe_b64encode(derived).decode(),)


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(_keys())


def recovery_keys() -> list[bytes]:
    """HMAC keys for recovery codes, one per Fernet key; the first is the current one."""
    return [hashlib.sha256(b"livits-recovery-codes:" + key.encode()).digest() for key in _keys()]


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    return fernet().decrypt(token.encode("ascii")).decode()


def reencrypt(token: str) -> str:
    """The same secret, encrypted with the first key."""
    return fernet().rotate(token.encode("ascii")).decode("ascii")
