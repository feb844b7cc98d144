"""The ``passkey``: a FIDO2 / WebAuthn credential (a platform passkey or a security key)
bound to the relying party, the portal's host. Its answer is an assertion: a signature,
with user verification, over the authenticator's data and the client data, whose challenge
is derived from the flow (its purpose, its lookup key and the statement the person
confirms) and a fresh nonce, so an assertion answers one challenge of one flow only.

Registration (creation options and the browser's credential) is checked here too, with the
``webauthn`` library; the service (services/passkeys.py) keeps the registration's flow.
Only the credential id, its COSE public key and its signature counter are stored.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import webauthn
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from securelogin.domain.factors.base import (
    Alarm,
    Answer,
    ChallengeContext,
    IssuedChallenge,
    UnsupportedMethod,
    Verdict,
)
from securelogin.domain.models import Challenge, Device, DeviceType, Method
from securelogin.policy import Policy

ALGORITHMS = (COSEAlgorithmIdentifier.ECDSA_SHA_256, COSEAlgorithmIdentifier.EDDSA,
              COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256)
CLONE_SUSPECTED = "passkey.clone_suspected"
CLONE_NOTICE = ("one of your passkeys answered with a counter that went backwards, as a copy of it would, and "
                "was locked. If you did not copy it, call Client Services.")
# What a check of the browser's JSON can raise when it is not what it should be.
REFUSED = (WebAuthnException, ValueError, KeyError, TypeError, AttributeError)


class InvalidRegistration(ValueError):
    """The browser's credential does not answer the creation options."""


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys are for: the RP ID (the portal's host) and the origins a browser may
    ask from (the portal's, ``http://localhost:{port}`` on the local stack)."""
    id: str
    name: str
    origins: tuple[str, ...]


@dataclass(frozen=True)
class RegisteredKey:
    credential_id: str  # base64url
    public_key: str  # base64url of the COSE_Key
    sign_count: int


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def flow_challenge(context: ChallengeContext, nonce: str) -> bytes:
    """The WebAuthn challenge of a flow's challenge: bound to the flow and what it confirms."""
    bound = "\x00".join(("securelogin-webauthn", context.binding, context.statement, nonce))
    return hashlib.sha256(bound.encode()).digest()


def _as_json(options: Any) -> dict[str, Any]:
    return json.loads(webauthn.options_to_json(options))


class PasskeyFactor:
    device_type = DeviceType.PASSKEY
    methods = (Method.WEBAUTHN,)

    def __init__(self, policy: Policy, relying_party: RelyingParty, code_key: Callable[[], bytes]) -> None:
        self._policy = policy
        self._rp = relying_party
        self._code_key = code_key

    # ------------------------------------------------------------------ answers

    def issue(self, device: Device, method: Method, context: ChallengeContext) -> IssuedChallenge:
        if method != Method.WEBAUTHN or not device.credential_id:
            raise UnsupportedMethod(method)
        nonce = secrets.token_urlsafe(16)
        expires_at = context.now + self._policy.challenge_ttl
        options = webauthn.generate_authentication_options(
            rp_id=self._rp.id, challenge=flow_challenge(context, nonce),
            timeout=int(self._policy.challenge_ttl.total_seconds() * 1000),
            allow_credentials=[PublicKeyCredentialDescriptor(id=unb64u(device.credential_id))],
            user_verification=UserVerificationRequirement.REQUIRED)
        return IssuedChallenge(public={"options": _as_json(options), "expires_at": expires_at},
                               check_data={"nonce": nonce}, expires_at=expires_at)

    def check(self, device: Device, challenge: Challenge, answer: Answer, context: ChallengeContext) -> Verdict:
        """Right when the assertion is this passkey's, for this challenge, from an allowed
        origin and this RP, with user presence and verification, and its counter grew (or
        both are zero). A valid signature over a counter that did not grow is a copy of the
        key: wrong, and the passkey is locked."""
        assertion = answer.assertion
        if assertion is None or not device.credential_id or not device.public_key:
            return Verdict.of(False)
        try:
            raw_id = unb64u(str(assertion.get("rawId") or assertion.get("id") or ""))
            if not hmac.compare_digest(raw_id, unb64u(device.credential_id)):
                return Verdict.of(False)
            verified = webauthn.verify_authentication_response(
                credential=assertion, expected_challenge=flow_challenge(context, challenge.check_data["nonce"]),
                expected_rp_id=self._rp.id, expected_origin=list(self._rp.origins),
                credential_public_key=unb64u(device.public_key), credential_current_sign_count=0,
                require_user_verification=True)
        except REFUSED:
            return Verdict.of(False)
        stored, seen = device.sign_count or 0, verified.new_sign_count
        if (stored or seen) and seen <= stored:
            return Verdict(right=False, alarm=Alarm(CLONE_SUSPECTED, CLONE_NOTICE))
        return Verdict(right=True, sign_count=seen)

    # ------------------------------------------------------------------ registration

    def user_handle(self, username: str) -> bytes:
        """The user's WebAuthn user handle: one per user, opaque (not the username)."""
        return hmac.new(self._code_key(), f"webauthn-user:{username}".encode(), hashlib.sha256).digest()

    def creation_options(self, username: str, challenge: bytes, registered: list[Device]) -> dict[str, Any]:
        """``PublicKeyCredentialCreationOptions`` in its JSON form, excluding ``registered``."""
        options = webauthn.generate_registration_options(
            rp_id=self._rp.id, rp_name=self._rp.name, user_name=username, user_id=self.user_handle(username),
            user_display_name=username, challenge=challenge,
            timeout=int(self._policy.passkey_registration_ttl.total_seconds() * 1000),
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.REQUIRED),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=unb64u(d.credential_id))
                                 for d in registered if d.credential_id],
            supported_pub_key_algs=list(ALGORITHMS))
        return _as_json(options)

    def verify_registration(self, credential: dict[str, Any], challenge: bytes) -> RegisteredKey:
        """The new credential, if it answers ``challenge`` from an allowed origin for this RP,
        with user presence and verification, an offered algorithm, and an attestation that is
        ``none`` or verifies."""
        try:
            verified = webauthn.verify_registration_response(
                credential=credential, expected_challenge=challenge, expected_rp_id=self._rp.id,
                expected_origin=list(self._rp.origins), require_user_presence=True, require_user_verification=True,
                supported_pub_key_algs=list(ALGORITHMS))
        except REFUSED as refused:
            raise InvalidRegistration(str(refused)) from None
        return RegisteredKey(b64u(verified.credential_id), b64u(verified.credential_public_key), verified.sign_count)
