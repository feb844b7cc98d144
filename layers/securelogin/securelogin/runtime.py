"""The composition root: builds the services from the settings, once per container,
on first use (never at import, so cold starts stay short and tests set the environment
first). The service graph's modules are imported when it is first built, so a function
that needs only sessions (the authorizer) loads only what sessions need."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from securelogin.clock import Clock, system_clock
from securelogin.settings import Settings, get_settings

if TYPE_CHECKING:
    from securelogin.domain.factors import FactorRegistry
    from securelogin.domain.factors.passkey import RelyingParty
    from securelogin.policy import Policy
    from securelogin.ports import (
        AuditStore,
        DeviceRequestStore,
        DeviceStore,
        EnrolmentStore,
        FlowStore,
        LedgerStore,
        LockoutStore,
        MessageSender,
        OutboxStore,
        PushEndpoints,
        SecretBox,
        SessionGrants,
        SessionStore,
        ShareStore,
        ThrottleStore,
        UserStore,
    )
    from securelogin.services.activation import ActivationService
    from securelogin.services.audit import AuditTrail
    from securelogin.services.backoffice_devices import BackOfficeDevices
    from securelogin.services.device_secrets import DeviceSecrets
    from securelogin.services.flows import FlowEngine
    from securelogin.services.login import LoginService
    from securelogin.services.outbox import OutboxDelivery
    from securelogin.services.passkeys import PasskeyRegistration
    from securelogin.services.passwords import PasswordGate
    from securelogin.services.push import PushService
    from securelogin.services.recovery import RecoveryService
    from securelogin.services.sessions import SessionService
    from securelogin.services.sharing import SharingService
    from securelogin.services.sls_mode import SlsModeService
    from securelogin.services.step_up import StepUpService
    from securelogin.services.user_devices import UserDevices
    from securelogin.services.users import UserService
    from securelogin.services.withdrawals import WithdrawalService


@dataclass(frozen=True)
class Services:
    policy: Policy
    users: UserService
    backoffice_devices: BackOfficeDevices
    user_devices: UserDevices
    login: LoginService
    activation: ActivationService
    recovery: RecoveryService
    sharing: SharingService
    push: PushService
    withdrawals: WithdrawalService
    sls_mode: SlsModeService
    step_up: StepUpService
    sessions: SessionService
    audit: AuditTrail
    outbox: OutboxDelivery
    passkeys: PasskeyRegistration
    # The parts the services above are made of, for callers (tests) that drive them directly.
    flows: FlowEngine
    passwords: PasswordGate
    factors: FactorRegistry
    device_secrets: DeviceSecrets
    box: SecretBox  # KMS envelope sealing, for what is sealed outside the services (kept answers)


@cache
def services() -> Services:
    return build_services(get_settings(), system_clock)


def build_services(settings: Settings, clock: Clock, sender: MessageSender | None = None) -> Services:
    """The services for ``settings``, over AWS; tests pass their own clock, or a sender aimed elsewhere."""
    from securelogin.adapters.audit import AuditStore
    from securelogin.adapters.aws import client
    from securelogin.adapters.devices import DeviceStore
    from securelogin.adapters.enrolment import EnrolmentStore
    from securelogin.adapters.flows import FlowStore, SessionGrants
    from securelogin.adapters.kms import CodeDigestKey, KmsKeyring, KmsSecretBox
    from securelogin.adapters.ledger import LedgerStore
    from securelogin.adapters.lockouts import LockoutStore
    from securelogin.adapters.messaging import AwsMessageSender, SnsPushEndpoints
    from securelogin.adapters.outbox import OutboxStore
    from securelogin.adapters.requests import DeviceRequestStore
    from securelogin.adapters.sessions import SessionStore
    from securelogin.adapters.shares import ShareStore
    from securelogin.adapters.table import bind_table
    from securelogin.adapters.throttles import ThrottleStore
    from securelogin.adapters.users import UserStore

    bind_table(settings.table_name, settings.region)

    def kms():
        return client("kms", settings.region)

    outside = Outside(
        users=UserStore(), devices=DeviceStore(), lockouts=LockoutStore(), throttles=ThrottleStore(),
        sessions=SessionStore(), audit=AuditStore(), flows=FlowStore(), grants=SessionGrants(),
        enrolment=EnrolmentStore(), shares=ShareStore(), requests=DeviceRequestStore(), ledger=LedgerStore(),
        outbox=OutboxStore(),
        sender=sender or AwsMessageSender(sns=lambda: client("sns", settings.region),
                                          voice=lambda: client("pinpoint-sms-voice-v2", settings.region),
                                          voice_origination_identity=settings.voice_origination_identity,
                                          sms_sender_id=settings.sms_sender_id),
        push_endpoints=SnsPushEndpoints(lambda: client("sns", settings.region),
                                        {"ios": settings.push_application_ios,
                                         "android": settings.push_application_android}),
        box=KmsSecretBox(KmsKeyring(kms, settings.kms_key_id)),
        code_key=CodeDigestKey(kms, settings.kms_key_id),
        voice_calls=bool(settings.voice_origination_identity), relying_party=settings.relying_party())
    return wire_services(outside, clock, settings.policy())


@dataclass(frozen=True)
class Outside:
    """What the services are built over: an implementation of each port (AWS's, or the
    in-memory fakes of the tests), the code-digest key, and whether voice calls can be made."""
    users: UserStore
    devices: DeviceStore
    lockouts: LockoutStore
    throttles: ThrottleStore
    sessions: SessionStore
    audit: AuditStore
    flows: FlowStore
    grants: SessionGrants
    enrolment: EnrolmentStore
    shares: ShareStore
    requests: DeviceRequestStore
    ledger: LedgerStore
    outbox: OutboxStore
    sender: MessageSender
    push_endpoints: PushEndpoints
    box: SecretBox
    code_key: Callable[[], bytes]
    voice_calls: bool
    relying_party: RelyingParty  # who passkeys are for, and the origins they answer from


def wire_services(outside: Outside, clock: Clock, policy: Policy) -> Services:
    """The one wiring of the service graph, whatever implements the ports."""
    from securelogin.domain.factors import FactorRegistry
    from securelogin.domain.factors.code_card import CodeCardFactor
    from securelogin.domain.factors.ib_key import IbKeyFactor
    from securelogin.domain.factors.message_code import MessageCodeFactor
    from securelogin.domain.factors.ocra_card import OcraFactor
    from securelogin.domain.factors.passkey import PasskeyFactor
    from securelogin.domain.factors.temporary_code import TemporaryCodeFactor
    from securelogin.domain.models import DeviceType, Purpose
    from securelogin.services.activation import ActivationService
    from securelogin.services.audit import AuditTrail
    from securelogin.services.backoffice_devices import BackOfficeDevices
    from securelogin.services.device_common import OCRA_CARDS
    from securelogin.services.device_secrets import DeviceSecrets
    from securelogin.services.enrolment import IbKeyEnrolment
    from securelogin.services.flows import FlowEngine
    from securelogin.services.login import LoginService
    from securelogin.services.notify import Notifier
    from securelogin.services.outbox import OutboxDelivery
    from securelogin.services.passkeys import PasskeyRegistration
    from securelogin.services.passwords import PasswordGate
    from securelogin.services.push import PushService
    from securelogin.services.recovery import RecoveryService
    from securelogin.services.sessions import SessionService
    from securelogin.services.sharing import SharingService
    from securelogin.services.sls_mode import SlsModeService
    from securelogin.services.step_up import StepUpService
    from securelogin.services.user_devices import UserDevices
    from securelogin.services.users import UserService
    from securelogin.services.withdrawals import WithdrawalService

    o, code_key = outside, outside.code_key
    audit = AuditTrail(o.audit, clock, policy)
    sessions = SessionService(o.sessions, o.users, o.devices, clock, policy)
    notifier = Notifier(o.outbox, o.users, clock, policy)
    device_secrets = DeviceSecrets(o.box)
    users = UserService(o.users, o.box, audit, clock)
    passwords = PasswordGate(o.users, o.lockouts, audit, clock, policy)
    passkey = PasskeyFactor(policy, o.relying_party, code_key)
    factors = FactorRegistry([
        MessageCodeFactor(policy, code_key, voice=o.voice_calls),
        IbKeyFactor(policy, device_secrets.open, code_key),
        *(OcraFactor(kind, policy, device_secrets.open) for kind in sorted(OCRA_CARDS)),
        CodeCardFactor(DeviceType.SCC, policy, device_secrets.open),
        CodeCardFactor(DeviceType.ONLINE_SCC, policy, device_secrets.open),
        TemporaryCodeFactor(policy, code_key, device_secrets.open),
        passkey,
    ])
    flows = FlowEngine(o.devices, o.flows, o.throttles, factors, o.sender, code_key, audit, notifier, clock, policy)
    withdrawals = WithdrawalService(flows, o.users, o.ledger, audit, clock, policy)
    login = LoginService(passwords, flows, o.grants, sessions, factors, audit, clock, policy)
    step_up = StepUpService(flows, o.users, o.sessions, audit, clock, policy)
    # What an approved push completes, by the purpose of its flow.
    push_completes = {Purpose.LOGIN: login.complete_by_push, Purpose.WITHDRAWAL: withdrawals.complete,
                      Purpose.STEP_UP: step_up.complete}
    enrolment = IbKeyEnrolment(users, o.enrolment, flows, o.push_endpoints, device_secrets, audit, notifier, clock,
                               policy)
    return Services(
        policy=policy,
        users=users,
        backoffice_devices=BackOfficeDevices(o.users, o.devices, o.requests, device_secrets, code_key, audit,
                                             notifier, clock, policy),
        user_devices=UserDevices(o.users, o.devices, o.requests, device_secrets, flows, audit, notifier, clock,
                                 policy),
        login=login,
        activation=ActivationService(passwords, flows, enrolment, step_up, audit, clock, policy),
        sharing=SharingService(passwords, users, o.users, o.devices, o.shares, flows, audit, notifier, clock, policy),
        recovery=RecoveryService(passwords, flows, enrolment, audit, clock, policy),
        push=PushService(flows, o.flows, o.throttles, push_completes, notifier, audit, clock, policy),
        withdrawals=withdrawals,
        sls_mode=SlsModeService(o.users, audit, notifier),
        step_up=step_up,
        sessions=sessions,
        audit=audit,
        outbox=OutboxDelivery(o.outbox, o.sender, clock, policy),
        passkeys=PasskeyRegistration(o.users, o.devices, passkey, flows, audit, notifier, clock, policy),
        flows=flows,
        passwords=passwords,
        factors=factors,
        device_secrets=device_secrets,
        box=o.box,
    )


@cache
def session_service() -> SessionService:
    """Only what checking a session token needs (the authorizer)."""
    from securelogin.adapters.devices import DeviceStore
    from securelogin.adapters.sessions import SessionStore
    from securelogin.adapters.table import bind_table
    from securelogin.adapters.users import UserStore
    from securelogin.services.sessions import SessionService

    settings = get_settings()
    bind_table(settings.table_name, settings.region)
    return SessionService(SessionStore(), UserStore(), DeviceStore(), system_clock, settings.policy())


def reset() -> None:
    """Forget the built services and settings (tests that change the environment)."""
    services.cache_clear()
    session_service.cache_clear()
    get_settings.cache_clear()
