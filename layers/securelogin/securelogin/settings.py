"""The environment a function runs in, validated once, on first use."""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from securelogin.policy import Policy

if TYPE_CHECKING:
    from securelogin.domain.factors.passkey import RelyingParty

# The environment variables of the Argon2id parameters. Unset, a function hashes with
# RFC 9106's second recommended option (section 4): 3 passes over 64 MiB in 4 lanes.
ARGON2_ENVIRONMENT = {"time_cost": "ARGON2_TIME_COST", "memory_cost_kib": "ARGON2_MEMORY_COST_KIB",
                      "parallelism": "ARGON2_PARALLELISM"}


class Argon2Parameters(BaseModel):
    """Argon2id's cost parameters, within the ranges RFC 9106 (section 3.1) allows.
    Hashes record the parameters they were made with, so changing these leaves existing
    hashes verifiable."""
    model_config = ConfigDict(frozen=True, extra="forbid")

    time_cost: int = Field(default=3, ge=1, le=2**32 - 1)  # passes
    memory_cost_kib: int = Field(default=64 * 1024, ge=8, le=2**32 - 1)
    parallelism: int = Field(default=4, ge=1, le=2**24 - 1)  # lanes

    @model_validator(mode="after")
    def _memory_covers_the_lanes(self) -> Argon2Parameters:
        if self.memory_cost_kib < 8 * self.parallelism:
            raise ValueError(f"memory_cost_kib must be at least 8 KiB per lane ({8 * self.parallelism})")
        return self

    def meets_rfc_9106(self) -> bool:
        """At least as costly as one of RFC 9106's recommended options: 1 pass over 2 GiB,
        or 3 passes over 64 MiB."""
        return self.memory_cost_kib >= 2 * 1024 * 1024 or (self.memory_cost_kib >= 64 * 1024 and self.time_cost >= 3)

    def check_for_stage(self, stage: str) -> Argon2Parameters:
        """Production hashes at RFC 9106's cost or more; cheaper profiles are for tests."""
        if stage == "prod" and not self.meets_rfc_9106():
            raise ValueError(f"Argon2 parameters {self} are below RFC 9106's recommendations, refused in prod")
        return self

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Argon2Parameters:
        env = os.environ if env is None else env
        raw = {name: env[variable] for name, variable in ARGON2_ENVIRONMENT.items() if env.get(variable, "").strip()}
        return cls.model_validate(raw).check_for_stage(env.get("STAGE", "dev"))


class Settings(BaseModel):
    table_name: str = Field(min_length=3)
    kms_key_id: str = Field(min_length=1)
    region: str = "us-east-1"
    stage: str = "dev"
    # The number or pool that places voice calls (Pinpoint SMS and Voice v2).
    voice_origination_identity: str = ""
    sms_sender_id: str = ""
    # SNS mobile-push platform applications (APNs, FCM), made with their credentials outside the stack.
    push_application_ios: str = ""
    push_application_android: str = ""
    # Passkeys: the relying party (the portal's host) and the origins a browser may register
    # and answer from (comma-separated in WEBAUTHN_ORIGINS; https://{rp id} when empty).
    webauthn_rp_id: str = Field(default="localhost", min_length=1)
    webauthn_origins: list[str] = Field(default_factory=list)
    policy_overrides: dict[str, Any] = Field(default_factory=dict)
    argon2: Argon2Parameters = Field(default_factory=Argon2Parameters)

    @field_validator("policy_overrides", mode="before")
    @classmethod
    def _parse_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("webauthn_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        return [o.strip() for o in value.split(",") if o.strip()] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _argon2_fits_the_stage(self) -> Settings:
        self.argon2.check_for_stage(self.stage)
        return self

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        raw = {
            "table_name": env.get("TABLE_NAME", ""),
            "kms_key_id": env.get("KMS_KEY_ID", ""),
            "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            "stage": env.get("STAGE", "dev"),
            "voice_origination_identity": env.get("VOICE_ORIGINATION_IDENTITY", ""),
            "sms_sender_id": env.get("SMS_SENDER_ID", ""),
            "push_application_ios": env.get("PUSH_APPLICATION_IOS", ""),
            "push_application_android": env.get("PUSH_APPLICATION_ANDROID", ""),
            "webauthn_rp_id": env.get("WEBAUTHN_RP_ID") or "localhost",
            "webauthn_origins": env.get("WEBAUTHN_ORIGINS", ""),
            "policy_overrides": env.get("POLICY_OVERRIDES") or "{}",
            "argon2": Argon2Parameters.from_environment(env),
        }
        return cls.model_validate(raw)

    def relying_party(self) -> RelyingParty:
        from securelogin.domain.factors.passkey import RelyingParty  # the webauthn library, only when wired

        return RelyingParty(id=self.webauthn_rp_id, name="IBKR Secure Login",
                            origins=tuple(self.webauthn_origins) or (f"https://{self.webauthn_rp_id}",))

    def policy(self) -> Policy:
        return Policy().with_overrides(self.policy_overrides)


@cache
def get_settings() -> Settings:
    return Settings.from_environment()


@cache
def get_argon2_parameters() -> Argon2Parameters:
    """The hashing parameters alone: hashing needs none of the other settings."""
    return Argon2Parameters.from_environment()
