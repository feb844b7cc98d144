"""Sending messages to people: SMS through SNS, voice calls through Pinpoint SMS and Voice v2."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from securelogin.domain.models import Channel, OutgoingMessage
from securelogin.observability import Metric, count
from securelogin.ports import DeliveryFailed

# Per channel, what a message that AWS took counts as, and one it did not.
OUTCOMES = {Channel.SMS: (Metric.SMS_SENT, Metric.SMS_FAILED), Channel.VOICE: (Metric.VOICE_SENT, Metric.VOICE_FAILED),
            Channel.PUSH: (Metric.PUSH_SENT, Metric.PUSH_FAILED)}


class AwsMessageSender:
    def __init__(self, sns: Callable[[], Any], voice: Callable[[], Any], voice_origination_identity: str,
                 sms_sender_id: str = "") -> None:
        self._sns = sns
        self._voice = voice
        self._voice_origination_identity = voice_origination_identity
        self._sms_sender_id = sms_sender_id

    def send(self, message: OutgoingMessage) -> None:
        """Sends ``message``, or raises DeliveryFailed; counts either (security notices too)."""
        if message.channel not in OUTCOMES:
            raise ValueError(f"unknown channel {message.channel}")
        sent, failed = OUTCOMES[message.channel]
        try:
            self._deliver(message)
        except DeliveryFailed:
            count(failed)
            raise
        except (BotoCoreError, ClientError) as exc:  # after botocore's retry
            count(failed)
            raise DeliveryFailed(f"{message.channel} delivery failed: {type(exc).__name__}") from exc
        count(sent)

    def _deliver(self, message: OutgoingMessage) -> None:
        if message.channel == Channel.SMS:
            self._send_sms(message)
        elif message.channel == Channel.PUSH:
            self._send_push(message)
        else:
            if not self._voice_origination_identity:
                raise DeliveryFailed("voice calls need VOICE_ORIGINATION_IDENTITY")
            self._voice().send_voice_message(
                DestinationPhoneNumber=message.to,
                OriginationIdentity=self._voice_origination_identity,
                MessageBody=message.body,
                MessageBodyTextType="SSML",
                VoiceId="JOANNA",
            )

    def _send_push(self, message: OutgoingMessage) -> None:
        data = message.data or {}
        payload = {
            "default": message.body,
            "GCM": json.dumps({"notification": {"title": "IBKR", "body": message.body}, "data": data}),
            "APNS": json.dumps({"aps": {"alert": message.body, "category": "IBKEY_DECISION"}, **data}),
        }
        self._sns().publish(TargetArn=message.to, MessageStructure="json", Message=json.dumps(payload))

    def _send_sms(self, message: OutgoingMessage) -> None:
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self._sms_sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self._sms_sender_id}
        self._sns().publish(PhoneNumber=message.to, Message=message.body, MessageAttributes=attributes)


class SnsPushEndpoints:
    """One SNS mobile-push endpoint per app instance, under the platform's application."""

    def __init__(self, sns: Callable[[], Any], platform_applications: dict[str, str]) -> None:
        self._sns = sns
        self._applications = platform_applications  # platform (ios, android) -> application ARN

    def register(self, platform: str, push_token: str, app_instance_id: str) -> str | None:
        """The endpoint ARN for a device token, or None when pushes cannot be set up."""
        application = self._applications.get(platform)
        if not application:
            return None
        try:
            return self._sns().create_platform_endpoint(PlatformApplicationArn=application, Token=push_token,
                                                        CustomUserData=app_instance_id)["EndpointArn"]
        except (BotoCoreError, ClientError):
            return None
