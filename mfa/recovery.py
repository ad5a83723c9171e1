"""Recovery codes, pure: making them, reading what a person typed, showing them.

A code is 10 characters from the 31 letters and digits that cannot be mistaken for
one another (no 0/O, no 1/I/L), drawn with `secrets`: 31^10, about 2^49.5
possibilities. Shown as XXXXX-XXXXX; read back with or without the dash, in any
case, with spaces anywhere.
"""

import hashlib
import hmac
import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 10
COUNT = 10  # codes in a set


def new_codes(count: int = COUNT) -> list[str]:
    return ["".join(secrets.choice(ALPHABET) for _ in range(LENGTH)) for _ in range(count)]


def normalize(raw: str | None) -> str | None:
    """'abcde-fghjk', ' ABCDE FGHJK ' -> 'ABCDEFGHJK'; anything else -> None."""
    value = "".join((raw or "").split()).replace("-", "").upper()
    if len(value) == LENGTH and all(character in ALPHABET for character in value):
        return value
    return None


def shown(code: str) -> str:
    """'ABCDEFGHJK' -> 'ABCDE-FGHJK'."""
    return f"{code[: LENGTH // 2]}-{code[LENGTH // 2 :]}"


def digest(code: str, key: bytes) -> str:
    """The stored form of a code: HMAC-SHA256 under a server key. A fast keyed hash is
    right for random codes of ~50 bits; the key keeps a stolen table useless."""
    return hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()
