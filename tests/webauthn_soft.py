"""A software authenticator for tests and benchmarks: makes passkeys (ES256, attestation
"none") and signs assertions, as a browser with a platform authenticator would send
them. Each refusal the server must make can be produced on purpose."""

import base64
import hashlib
import json
import secrets
import struct

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    def __init__(self, rp_id="localhost", origin="http://localhost:8000"):
        self.rp_id, self.origin = rp_id, origin
        self.credentials = {}  # credential id -> (private key, user handle, counter)
        self.keeps_counter = True

    def _client_data(self, kind, challenge, origin=None):
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps(data).encode()

    def _auth_data(self, flags, counter, attested=b""):
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", counter) + attested

    def create(self, options, *, origin=None, verified=True):
        """navigator.credentials.create() for the options the server gave: the JSON
        the browser posts back (credential.toJSON())."""
        key = ec.generate_private_key(ec.SECP256R1())
        numbers = key.public_key().public_numbers()
        cose = cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        credential_id = secrets.token_bytes(16)
        attested = b"\0" * 16 + struct.pack(">H", len(credential_id)) + credential_id + cose
        flags = UP | AT | (UV if verified else 0)
        auth_data = self._auth_data(flags, 0, attested)
        handle = options["user"]["id"]
        self.credentials[credential_id] = [key, handle, 0]
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(credential_id),
            "rawId": b64url(credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def get(
        self,
        options,
        *,
        credential_id=None,
        origin=None,
        verified=True,
        counter=None,
        user_handle=None,
    ):
        """navigator.credentials.get(): an assertion by one of our passkeys."""
        credential_id = credential_id or next(iter(self.credentials))
        key, handle, last = self.credentials[credential_id]
        if counter is None:
            counter = last + 1 if self.keeps_counter else 0
        self.credentials[credential_id][2] = counter
        auth_data = self._auth_data(UP | (UV if verified else 0), counter)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(credential_id),
            "rawId": b64url(credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": user_handle if user_handle is not None else handle,
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }
