"""WebAuthn (passkeys and security keys) through py_webauthn: the options the browser gets,
and the checks of what it sends back. No database here; mfa.passkeys decides.

Every registration and sign-in asks for user verification (the device's PIN or
biometrics), so a passkey is two factors on its own. The relying party is
MFA_WEBAUTHN_RP_ID; what the browser signed must come from one of
MFA_WEBAUTHN_ORIGINS.
"""

import json
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
)
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

CHALLENGE_BYTES = 32
HANDLE_BYTES = 32
TIMEOUT_MS = 5 * 60 * 1000


class Refused(Exception):
    """What the browser sent does not hold; `reason` names what failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _reason(error: Exception) -> str:
    text = str(error).lower()
    for word, reason in (
        ("challenge", "challenge"),
        ("origin", "origin"),
        ("rp id", "rp_id"),
        ("user verification", "user_verification"),
        ("signature", "signature"),
    ):
        if word in text:
            return reason
    return "invalid"


def new_challenge() -> str:
    return bytes_to_base64url(secrets.token_bytes(CHALLENGE_BYTES))


def new_user_handle() -> str:
    """A random WebAuthn user handle: never the username or the primary key."""
    return bytes_to_base64url(secrets.token_bytes(HANDLE_BYTES))


def registration_options(
    *,
    challenge: str,
    user_handle: str,
    user_name: str,
    display_name: str,
    exclude: list[str],
    issuer: str,
) -> dict[str, Any]:
    """`issuer`: the installation's name (MfaSettings.issuer_name), as the apps show it."""
    options = generate_registration_options(
        rp_id=settings.MFA_WEBAUTHN_RP_ID,
        rp_name=issuer,
        user_id=base64url_to_bytes(user_handle),
        user_name=user_name,
        user_display_name=display_name,
        challenge=base64url_to_bytes(challenge),
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(credential))
            for credential in exclude
        ],
    )
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


@dataclass(frozen=True)
class NewPasskey:
    credential_id: str
    public_key: bytes
    sign_count: int
    transports: list[str]


def verify_registration(*, credential: dict[str, Any], challenge: str) -> NewPasskey:
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=settings.MFA_WEBAUTHN_RP_ID,
            expected_origin=settings.MFA_WEBAUTHN_ORIGINS,
            require_user_verification=True,
        )
    except (InvalidRegistrationResponse, InvalidJSONStructure, ValueError, KeyError) as error:
        raise Refused(_reason(error)) from None
    transports = (credential.get("response") or {}).get("transports") or []
    return NewPasskey(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[str(transport) for transport in transports][:8],
    )


def authentication_options(*, challenge: str) -> dict[str, Any]:
    """Options for a sign-in without a username: the browser offers its passkeys."""
    options = generate_authentication_options(
        rp_id=settings.MFA_WEBAUTHN_RP_ID,
        challenge=base64url_to_bytes(challenge),
        timeout=TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


@dataclass(frozen=True)
class Assertion:
    credential_id: str
    user_handle: str | None
    raw: dict[str, Any]


def read_assertion(credential: Any) -> Assertion:
    """The credential id and user handle a sign-in claims, before anything is verified."""
    try:
        parsed = parse_authentication_credential_json(json.dumps(credential))
    except (InvalidJSONStructure, InvalidAuthenticationResponse, ValueError, TypeError):
        raise Refused("malformed") from None
    handle = parsed.response.user_handle
    return Assertion(
        credential_id=bytes_to_base64url(parsed.raw_id),
        user_handle=bytes_to_base64url(handle) if handle else None,
        raw=credential,
    )


def verify_assertion(*, assertion: Assertion, challenge: str, public_key: bytes) -> int:
    """Check the signature (and origin, RP ID, challenge, user verification); the new
    signature counter. The counter itself is compared by the caller, in the database."""
    try:
        verified = verify_authentication_response(
            credential=assertion.raw,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=settings.MFA_WEBAUTHN_RP_ID,
            expected_origin=settings.MFA_WEBAUTHN_ORIGINS,
            credential_public_key=public_key,
            credential_current_sign_count=0,  # compared by one conditional UPDATE instead
            require_user_verification=True,
        )
    except (InvalidAuthenticationResponse, InvalidJSONStructure, ValueError, KeyError) as error:
        raise Refused(_reason(error)) from None
    return int(verified.new_sign_count)
