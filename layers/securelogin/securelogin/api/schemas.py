"""Request bodies, validated by Powertools from the handlers' type hints."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from securelogin.domain.factors.base import Answer as GivenAnswer
from securelogin.domain.models import Method
from securelogin.domain.phones import E164
from securelogin.domain.statements import destination_problem
from securelogin.domain.usernames import normalise_username


def _whole_cents(amount: float) -> float:
    """Money is in cents: a fraction of a cent is no amount (and DynamoDB cannot hold 1e-131)."""
    exponent = Decimal(repr(amount)).as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -2:
        raise ValueError("at most two decimal places")
    return amount


def _key_sized(name: str) -> str:
    """NFKC may grow a name many times over (one character to eighteen): it must still fit a key."""
    if len(name.encode()) > 256:
        raise ValueError("too long once normalised")
    return name


# Usernames are compared in one form (NFKC, lower case) wherever they come in.
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{3,64}$"), AfterValidator(normalise_username)]
# Loose on purpose where a password is checked: a malformed username is one that does not exist.
LoginName = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(normalise_username),
                      AfterValidator(_key_sized)]
Phone = Annotated[str, StringConstraints(pattern=E164.pattern)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=128)]
FlowId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
DeviceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{4,64}$")]
RequestId = Annotated[str, StringConstraints(pattern=r"^req_[0-9a-f]{20}$")]
# As a person types it (any case, spaces, hyphens): whatever is no QR session id once
# normalised (crypto/session_ids.py) is one never issued (404), not a malformed request.
QrSessionId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


EXAMPLE_PASSWORD = "correct horse battery"  # noqa: S105 - shown in the API document's examples


def example(**fields: Any) -> ConfigDict:
    """A body's example, shown in the OpenAPI document."""
    return ConfigDict(json_schema_extra={"examples": [fields]})


class Body(BaseModel):
    # Strict: "42" is not a number and "true" not a boolean (an int still passes as a float).
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False, strict=True)


class IdDocumentBody(Body):
    type: ShortText
    number: ShortText


class IdentityBody(Body):
    date_of_birth: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    citizenship: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")]
    country_of_residence: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")]
    id_document: IdDocumentBody
    ssn: Annotated[str, StringConstraints(pattern=r"^\d{9}$")] | None = None


class CreateUserBody(Body):
    model_config = example(
        username="jdoe1", password=EXAMPLE_PASSWORD, account_id="U1234567", entity_id="E1", primary=True,
        identity={"date_of_birth": "1980-04-02", "citizenship": "US", "country_of_residence": "US",
                  "id_document": {"type": "passport", "number": "X1234567"}},
        phones=["+12125550123"], balance_usd=250000.0, jurisdiction="US")
    username: Username
    password: Annotated[str, StringConstraints(min_length=8, max_length=256)]
    account_id: ShortText
    entity_id: ShortText
    primary: bool
    identity: IdentityBody
    phones: Annotated[list[Phone], Field(max_length=5)]
    balance_usd: Annotated[float, Field(ge=0, le=1e15), AfterValidator(_whole_cents)]
    jurisdiction: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")]


class IssueDeviceBody(Body):
    type: Literal["dsc_plus", "scc", "dsc", "gold", "platinum"]
    serial: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,32}$")] | None = None
    seed_hex: Annotated[str, StringConstraints(pattern=r"^(?:[0-9a-fA-F]{2}){16,64}$")] | None = None
    pin: Annotated[str, StringConstraints(min_length=1, max_length=16)] | None = None
    legacy_import: bool = False


class EnrolBody(Body):
    pin: Annotated[str, StringConstraints(min_length=1, max_length=16)]
    public_key: Annotated[str, StringConstraints(min_length=16, max_length=1024)]
    platform: Literal["ios", "android"]
    app_instance_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")] | None = None
    push_token: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None


class SmsActivationBody(Body):
    model_config = example(username="jdoe1", password=EXAMPLE_PASSWORD, phone="+12125550123")
    username: LoginName
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    phone: Phone


class CompleteSmsActivationBody(EnrolBody):
    model_config = example(activation_code="483920", pin="7391", platform="ios",
                           public_key="MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE...")
    activation_code: Annotated[str, StringConstraints(min_length=1, max_length=16)]


class CompleteQrActivationBody(EnrolBody):
    model_config = example(session_id="7KQ4-M9XD-2RTB-H6WN", pin="7391", platform="ios",
                           public_key="MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE...")
    session_id: QrSessionId


class RecoveryBody(Body):
    model_config = example(username="jdoe1", password=EXAMPLE_PASSWORD, same_phone=True)
    username: LoginName
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    same_phone: bool
    app_instance_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")] | None = None


class CompleteRecoveryBody(EnrolBody):
    activation_code: Annotated[str, StringConstraints(min_length=1, max_length=16)] | None = None
    response: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class PushResponseBody(Body):
    model_config = example(device_id="dev_4f1c2a9e0b7d", push_id="Jx0rQm3v8N2kLw5yT7bZ1A", nonce="b3f1c0",
                           decision="approve", number="417", signature="MEUCIQD...")
    device_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    push_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    nonce: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    decision: Literal["approve", "deny"]
    # The digits the person typed from the client that asked (number matching); none for a deny.
    number: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,8}$")] | None = None
    signature: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class DscPlusRequestBody(Body):
    pin: Annotated[str, StringConstraints(min_length=1, max_length=16)]
    reason: Literal["new", "lost", "broken", "battery", "second"]


class ResponseBody(Body):
    response: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class PinChangeBody(ResponseBody):
    new_pin: Annotated[str, StringConstraints(min_length=1, max_length=16)]


class FulfilBody(Body):
    serial: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,32}$")]
    seed_hex: Annotated[str, StringConstraints(pattern=r"^(?:[0-9a-fA-F]{2}){16,64}$")]


class ShareBody(Body):
    model_config = example(owner_username="jdoe2", owner_password=EXAMPLE_PASSWORD)
    owner_username: LoginName
    owner_password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


OperatorReason = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"\S")]


class ReasonBody(Body):
    """Why the back office does this (how the caller's identity was verified): kept in the audit trail."""
    model_config = example(reason="identity verified by video call")
    reason: OperatorReason


class ShareDecisionBody(Body):
    decision: Literal["approve", "reject"]
    reason: OperatorReason


def _shown_as_is(destination: str) -> str:
    problem = destination_problem(destination)
    if problem:
        raise ValueError(problem)
    return destination


Destination = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_shown_as_is)]


class WithdrawalBody(Body):
    model_config = example(amount_usd=2500.0, destination="Chase checking ****6789")
    amount_usd: Annotated[float, Field(ge=0.01, le=1_000_000_000), AfterValidator(_whole_cents)]
    # Where the money goes, as the person will read it on the device that confirms it.
    destination: Destination | None = None


class SettingsBody(Body):
    model_config = example(mode="opted_out", accept_risk=True)
    mode: Literal["always", "opted_out"]
    accept_risk: bool = False


class ClientBody(Body):
    platform: Literal["portal", "tws", "mobile"]
    version: int | None = None


class LoginBody(Body):
    model_config = example(username="jdoe1", password=EXAMPLE_PASSWORD, client={"platform": "portal"})
    username: LoginName
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    client: ClientBody = ClientBody(platform="portal")


class ChallengeBody(Body):
    model_config = example(device_id="dev_4f1c2a9e0b7d", method="sms")
    device_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    method: Literal["push", "challenge_response", "sms", "voice", "webauthn"] | None = None

    @property
    def method_asked(self) -> Method | None:
        return Method(self.method) if self.method else None


class VerifyBody(Body):
    """A typed ``response``, or a passkey's ``assertion`` (exactly one of them)."""
    model_config = example(response="482915")
    response: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    assertion: dict[str, Any] | None = Field(
        None, description="A passkey's answer: the browser's AuthenticationResponseJSON (id, rawId, type, "
                          "response{clientDataJSON, authenticatorData, signature, userHandle?}).")

    @model_validator(mode="after")
    def _one_answer(self) -> VerifyBody:
        if (self.response is None) == (self.assertion is None):
            raise ValueError("send either response or assertion")
        return self

    @property
    def answer(self) -> GivenAnswer:
        return GivenAnswer(text=self.response or "", assertion=self.assertion)


class PasskeyBody(Body):
    model_config = example(registration_id="3q2-7wXg5YxW0b0a1hB9sA", label="MacBook Touch ID",
                           credential={"id": "...", "rawId": "...", "type": "public-key", "response": {}})
    registration_id: FlowId
    label: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
    credential: dict[str, Any] = Field(description="The browser's RegistrationResponseJSON.")
