"""The environment a function runs in, validated once, on first use."""
from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from pydantic import BaseModel, Field, field_validator

from securelogin.policy import Policy


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
    policy_overrides: dict[str, Any] = Field(default_factory=dict)

    @field_validator("policy_overrides", mode="before")
    @classmethod
    def _parse_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> Settings:
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
            "policy_overrides": env.get("POLICY_OVERRIDES") or "{}",
        }
        return cls.model_validate(raw)

    def policy(self) -> Policy:
        return Policy().with_overrides(self.policy_overrides)


@cache
def get_settings() -> Settings:
    return Settings.from_environment()
