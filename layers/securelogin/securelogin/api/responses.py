"""What each route answers, as types: the handlers build these, Powertools checks every answer
against them, and the OpenAPI document describes them. A field that does not apply is left
unset and is not sent (see ``http.ResponseValidation``); a field that applies but has no
value is sent as null."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from securelogin.domain.models import DeviceStatus, DeviceType, Scope, SlsMode


def _open_to_new_fields(schema: dict[str, Any]) -> None:
    # Built strictly here, but a client must accept fields added later (api.md: extra fields are free).
    schema.pop("additionalProperties", None)


class Answer(BaseModel):
    """A response body. Building one with a field it does not declare is our bug, and fails."""
    model_config = ConfigDict(extra="forbid", validate_assignment=True, json_schema_extra=_open_to_new_fields)


Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"}, examples=["2026-11-21T10:00:00Z"])]
Usd = Annotated[float, Field(ge=0, examples=[1000.0])]
FlowIdentifier = Annotated[str, Field(min_length=16, description="A random id of at least 128 bits, honoured only "
                                                                 "by the routes of its own flow.")]


# ------------------------------------------------------------------ errors

class ErrorDetail(BaseModel):
    """What went wrong: a stable ``code`` to branch on and a ``message`` for people, with the
    extra fields some codes carry."""
    model_config = ConfigDict(extra="allow")
    code: str = Field(examples=["invalid_request"])
    message: str = Field(examples=["body.username: Field required"])
    attempts_left: int | None = Field(None, description="invalid_response, invalid_activation_code")
    retry_after_seconds: int | None = Field(None, description="429, 423 and 503 answers; also a Retry-After header")
    available_today: float | None = Field(None, description="limit_exceeded")
    available_five_days: float | None = Field(None, description="limit_exceeded")
    primary_username: str | None = Field(None, description="not_primary_user")


class Error(BaseModel):
    """Every 4xx and 5xx answer."""
    error: ErrorDetail


# ------------------------------------------------------------------ devices and users

class Device(Answer):
    """A device as the API shows it: never a secret."""
    device_id: str = Field(examples=["dev_4f1c2a9e0b7d"])
    type: DeviceType
    label: str
    status: DeviceStatus
    security_level: int = Field(description="Higher is stronger; used to order devices and shares.")
    created_at: Timestamp
    last_used_at: Timestamp | None
    serial: str | None = None
    ocra_suite: str | None = None
    app_instance_id: str | None = None
    platform: str | None = None
    valid_until: Timestamp | None = None
    phone_masked: str | None = Field(None, examples=["+1******4567"])


class PasskeyRegistration(Answer):
    """Pass ``options`` to ``navigator.credentials.create`` and send the credential back
    within 5 minutes, once."""
    registration_id: FlowIdentifier
    options: dict[str, Any] = Field(description="PublicKeyCredentialCreationOptions in its JSON form (binary fields "
                                                "base64url).")


class IssuedDevice(Device):
    """A device just issued: an OCRA card's generated seed and a code card's values are shown this once."""
    seed_hex: str | None = None
    card: dict[str, str] | None = Field(None, description="Index number to value.")


class IdDocumentShown(Answer):
    type: str
    number_last4: str


class IdentityShown(Answer):
    date_of_birth: str
    citizenship: str
    country_of_residence: str
    id_document: IdDocumentShown
    ssn_last4: str | None


class UserFields(Answer):
    username: str
    account_id: str
    entity_id: str
    primary: bool
    phones: list[str]
    balance_usd: float
    jurisdiction: str
    sls_mode: SlsMode
    restrictions: list[str]
    created_at: Timestamp


class UserRecord(UserFields):
    """A user as the back office sees them, without secrets."""
    identity: IdentityShown
    devices: list[Device]


class LimitsLeft(Answer):
    per_day: float | None = Field(description="null: no limit")
    per_five_business_days: float | None
    remaining_today: float | None
    remaining_five_business_days: float | None


class Profile(UserFields):
    """The signed-in user, their devices and what each kind of device lets them withdraw."""
    devices: list[Device]
    withdrawal_limits: dict[str, LimitsLeft] = Field(description="By device type ('none' when there is no device).")


class UserCreated(Answer):
    username: str


class TemporaryCode(Answer):
    """Read the code to the client once; it is not shown again."""
    device_id: str
    code: str
    full_access_until: Timestamp
    portal_access_until: Timestamp


class Share(Answer):
    share_id: str
    status: Literal["challenged", "pending_compliance", "approved", "rejected", "cancelled"]
    requester_username: str
    owner_username: str
    device_id: str
    same_entity: bool
    created_at: Timestamp
    reason: str | None = None


class Shares(Answer):
    shares: list[Share]


class AuditEvent(BaseModel):
    """One audit event; the fields beyond ``at`` and ``type`` depend on the type."""
    model_config = ConfigDict(extra="allow")
    at: Timestamp
    type: str = Field(examples=["login_succeeded"])


class AuditTrail(Answer):
    events: list[AuditEvent] = Field(description="Newest first.")


# ------------------------------------------------------------------ challenges

STATEMENT = Field(description="What the person confirms: show it beside the challenge.",
                  examples=["Log in to IBKR as jdoe1 from portal (203.0.113.10, Chrome on Windows)"])


class PushChallenge(Answer):
    """A notification went to the IB Key app; show ``match_number``, which the person types
    into the app, and poll the flow's status for the decision."""
    push_sent: Literal[True]
    match_number: str | None = Field(default=None, pattern=r"^\d{3}$", examples=["417"])
    statement: str = STATEMENT
    expires_at: Timestamp


class CodeChallenge(Answer):
    """Enter the challenge code into the device (with its PIN) and send back its response."""
    challenge_code: str = Field(pattern=r"^\d{6}$", examples=["482915"])
    statement: str = STATEMENT
    expires_at: Timestamp


class IndexChallenge(Answer):
    """Send the card's values at these two index numbers, in this order, concatenated."""
    indices: list[str] = Field(min_length=2, max_length=2, examples=[["042", "317"]])
    statement: str = STATEMENT
    expires_at: Timestamp


class MessageChallenge(Answer):
    """A code went out by SMS or voice call."""
    sent_to: str = Field(examples=["+1******4567"])
    statement: str = STATEMENT
    expires_at: Timestamp
    resend_after_seconds: int


class PasskeyChallenge(Answer):
    """Pass ``options`` to ``navigator.credentials.get`` and send back the assertion."""
    options: dict[str, Any] = Field(description="PublicKeyCredentialRequestOptions in its JSON form (binary fields "
                                                "base64url).")
    statement: str = STATEMENT
    expires_at: Timestamp


class NoChallenge(Answer):
    """A temporary code: nothing to show, send the code."""
    statement: str = STATEMENT


Challenge = PushChallenge | CodeChallenge | IndexChallenge | MessageChallenge | PasskeyChallenge | NoChallenge


class ChallengeIssued(Answer):
    device_id: str
    type: DeviceType
    method: Literal["push", "challenge_response", "sms", "voice", "code", "webauthn"]
    challenge: Challenge


# ------------------------------------------------------------------ login and sessions

class SessionGranted(Answer):
    session_token: str = Field(description="Send as 'Authorization: Bearer <session_token>'.")
    scope: Scope
    expires_at: Timestamp


class LoginStarted(Answer):
    """The password was right: choose a device and ask for its challenge. An opted-out user
    also gets a trading session at once, and may step up with a device."""
    login_id: FlowIdentifier
    expires_at: Timestamp
    devices: list[Device]
    default_device_id: str | None
    session_token: str | None = None
    scope: Scope | None = None
    restrictions: list[str] | None = None


class LoginStatus(Answer):
    """The session fields come once: the first time the status is read as approved."""
    status: Literal["pending", "approved", "denied", "expired"]
    session_token: str | None = None
    scope: Scope | None = None
    expires_at: Timestamp | None = None


class PushAnswered(Answer):
    status: Literal["approved", "denied"]


class PushState(Answer):
    """Whether the app should still offer a push: only a pending one is."""
    status: Literal["pending", "answered", "expired", "withdrawn"]


# ------------------------------------------------------------------ step-up

class StepUpStarted(Answer):
    """Challenge one of ``devices`` (those strong enough), then answer it."""
    step_up_id: FlowIdentifier
    devices: list[Device]
    expires_at: Timestamp


class SteppedUp(Answer):
    """The same session token may change the account's protection until then."""
    stepped_up_until: Timestamp


class StepUpState(Answer):
    status: Literal["pending", "approved", "denied", "expired"]
    stepped_up_until: Timestamp | None = None


# ------------------------------------------------------------------ IB Key activation and recovery

class ActivationSent(Answer):
    activation_id: FlowIdentifier
    sent_to: str
    expires_at: Timestamp


class QrSession(Answer):
    session_id: str = Field(examples=["7KQ4-M9XD-2RTB-H6WN"],
                            description="16 characters of Crockford's base32, shown in groups of four; read back "
                                        "in any case, without regard to spaces and hyphens.")
    qr_payload: str = Field(examples=["ibkr-ibkey://activate?session_id=7KQ4M9XD2RTBH6WN"])
    qr_svg: str = Field(description="The payload as a QR code, an SVG document.")
    expires_at: Timestamp


class QrSessionStatus(Answer):
    """Whether the app finished with the QR session: ``device_id`` is the IB Key it enrolled."""
    status: Literal["pending", "used", "expired"]
    device_id: str | None = None


class AppEnrolled(Answer):
    """Keep the OCRA secret in the app: it is not shown again."""
    device_id: str
    app_instance_id: str
    ocra_suite: str
    ocra_secret_hex: str


class QrAppEnrolled(AppEnrolled):
    """Keep the OCRA secret in the app: it is not shown again. ``username``: whose QR session it was."""
    username: str


class RecoveryStarted(Answer):
    """By SMS: a code went to ``sent_to``. By device: answer ``challenge`` with ``device_id``."""
    recovery_id: FlowIdentifier
    method: Literal["sms", "device"]
    expires_at: Timestamp
    sent_to: str | None = None
    device_id: str | None = None
    challenge: Challenge | None = None


# ------------------------------------------------------------------ the user's devices

class DscPlusRequested(Answer):
    request_id: str
    status: Literal["requested"]
    fee_usd: float
    reserve_usd: float


class DeviceChallenge(Answer):
    challenge_code: str = Field(pattern=r"^\d{6}$", examples=["482915"])
    expires_at: Timestamp


class OnlineCard(Answer):
    device_id: str
    card: dict[str, str] = Field(description="Index number to value.")
    valid_until: Timestamp


# ------------------------------------------------------------------ settings

class SecureLoginSetting(Answer):
    mode: SlsMode
    can_change: bool
    primary_username: str | None
    restrictions: list[str]


class SecureLoginChanged(Answer):
    mode: SlsMode
    restrictions: list[str]


# ------------------------------------------------------------------ withdrawals

class WithdrawalStarted(Answer):
    withdrawal_id: FlowIdentifier
    statement: str = Field(examples=["Withdraw USD 2,500.00 to Chase checking ****6789"])
    eligible_devices: list[str] = Field(description="Ids of the devices whose limits cover the amount.")
    expires_at: Timestamp


class Remaining(Answer):
    today: float | None
    five_business_days: float | None


class WithdrawalAuthorized(Answer):
    status: Literal["authorized"]
    remaining: Remaining


class WithdrawalStatus(Answer):
    status: Literal["pending", "authorized", "denied", "expired"]


# ------------------------------------------------------------------ sharing

class ShareStarted(Answer):
    """Answer ``challenge`` with the owner's device to complete the share."""
    share_id: FlowIdentifier
    device: Device
    challenge: Challenge


class ShareState(Answer):
    share_id: str
    status: Literal["challenged", "pending_compliance", "approved", "rejected", "cancelled"]
