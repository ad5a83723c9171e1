"""Encryption of TOTP secrets at rest (Fernet, keys rotate).

MFA_ENCRYPTION_KEYS holds Fernet keys: the first encrypts, all decrypt. Without
it (development only, settings refuse this when DEBUG is off) one key is derived
from SECRET_KEY.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = hashlib.sha256(b"livits-mfa-secrets:" + secret_key.encode()).digest()
        keys = (base64.urlsafe_b64encode(derived).decode(),)
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.MFA_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    return fernet().decrypt(token.encode("ascii")).decode()


def reencrypt(token: str) -> str:
    """The same secret, encrypted with the first key."""
    return fernet().rotate(token.encode("ascii")).decode("ascii")
