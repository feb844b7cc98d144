import boto3
import pytest

from securelogin.domain.models import DeviceStatus, DeviceType
from securelogin.errors import Conflict, NotFound


def raw_items(world):
    return boto3.client("dynamodb").query(
        TableName=world.table, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "USER#alice"}})["Items"]


def test_a_new_user_with_a_phone_is_enrolled_in_sms(world, new_user):
    world.services.users.create(new_user(), actor="tester")
    user, devices = world.services.users.profile("alice")
    assert user.account_id == "U1234567"
    assert [(d.type, d.status, d.phone) for d in devices] == [(DeviceType.SMS, DeviceStatus.ACTIVE, "+15550001111")]


def test_a_user_without_phones_has_no_device(world, new_user):
    world.services.users.create(new_user(phones=[]), actor="tester")
    assert world.services.users.profile("alice")[1] == []


def test_usernames_are_unique(world, new_user):
    world.services.users.create(new_user(), actor="tester")
    with pytest.raises(Conflict) as refused:
        world.services.users.create(new_user(account_id="U999"), actor="tester")
    assert refused.value.code == "username_taken"
    assert world.services.users.profile("alice")[0].account_id == "U1234567"


def test_no_password_or_identity_number_is_stored_in_plaintext(world, new_user):
    world.services.users.create(new_user(), actor="tester")
    stored = str(raw_items(world))
    for secret in ("correct horse 1", "P7654321", "078051120", "1980-01-31"):
        assert secret not in stored
    assert "$argon2id$" in stored


def test_the_back_office_view_opens_the_identity(world, new_user):
    world.services.users.create(new_user(), actor="tester")
    seen = world.services.users.view("alice")
    assert seen.identity.id_document.number == "P7654321" and seen.identity.ssn == "078051120"


def test_unknown_user(world):
    with pytest.raises(NotFound):
        world.services.users.view("nobody")


def test_creation_is_audited(world, new_user):
    world.services.users.create(new_user(), actor="arn:aws:iam::1:user/cs")
    types = [e.type for e in world.services.audit.newest_first("alice")]
    assert types == ["device.added", "user.created"]
