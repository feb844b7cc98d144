"""DynamoDB transactions in moto as the embedded AWS patches it (securelogin_local.moto_transactions):
all or nothing, across tables and in the GSI, without copying whole tables, and without
moto keeping every item object it makes."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table

from securelogin_local import moto_transactions

MAIN, OTHER = "main", "other"  # keyed like the service's table (pk / sk, gsi1); by pk alone


def _create_tables(client: Any) -> None:
    client.create_table(
        TableName=MAIN, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")],
        GlobalSecondaryIndexes=[{"IndexName": "gsi1", "Projection": {"ProjectionType": "ALL"}, "KeySchema": [
            {"AttributeName": "gsi1pk", "KeyType": "HASH"}, {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]}])
    client.create_table(TableName=OTHER, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        moto_transactions.install()
        client = boto3.client("dynamodb", region_name="us-east-1")
        _create_tables(client)
        yield client


def key(pk: str, table: str = MAIN) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": "A"}} if table == MAIN else {"pk": {"S": pk}}


def put(client: Any, table: str, pk: str, **attributes: str) -> None:
    client.put_item(TableName=table, Item={**key(pk, table), **{n: {"S": v} for n, v in attributes.items()}})


def everything(client: Any) -> dict[str, list[dict[str, Any]]]:
    return {table: sorted(client.scan(TableName=table)["Items"], key=lambda i: i["pk"]["S"])
            for table in (MAIN, OTHER)}


def update(table: str, pk: str, value: str) -> dict[str, Any]:
    return {"Update": {"TableName": table, "Key": key(pk, table), "UpdateExpression": "SET v = :v",
                       "ExpressionAttributeValues": {":v": {"S": value}}}}


def failing_check(pk: str) -> dict[str, Any]:
    return {"ConditionCheck": {"TableName": MAIN, "Key": key(pk), "ConditionExpression": "attribute_not_exists(pk)",
                               "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}


def cancelled(client: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(TransactItems=items)
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    return refused.value.response["CancellationReasons"]


def test_a_cancelled_transaction_leaves_every_item_in_every_table_as_it_was(dynamodb: Any) -> None:
    put(dynamodb, MAIN, "updated", v="before", gsi1pk="G", gsi1sk="1")
    put(dynamodb, MAIN, "deleted", v="kept")
    put(dynamodb, MAIN, "replaced", v="old")
    put(dynamodb, OTHER, "elsewhere", v="before")
    put(dynamodb, OTHER, "deleted-elsewhere", v="kept")
    put(dynamodb, MAIN, "guard", v="present")
    before = everything(dynamodb)

    reasons = cancelled(dynamodb, [
        update(MAIN, "updated", "after"),
        update(MAIN, "created-by-update", "new"),
        {"Delete": {"TableName": MAIN, "Key": key("deleted")}},
        {"Put": {"TableName": MAIN, "Item": {**key("replaced"), "v": {"S": "new"}}}},
        {"Put": {"TableName": MAIN, "Item": {**key("created-by-put"), "v": {"S": "new"}}}},
        update(OTHER, "elsewhere", "after"),
        update(OTHER, "created-elsewhere", "new"),
        {"Delete": {"TableName": OTHER, "Key": key("deleted-elsewhere", OTHER)}},
        failing_check("guard"),
    ])

    assert everything(dynamodb) == before
    assert [r["Code"] for r in reasons] == ["None"] * 8 + ["ConditionalCheckFailed"]
    assert reasons[-1]["Item"] == {**key("guard"), "v": {"S": "present"}}


def test_a_transaction_refused_for_naming_one_item_twice_takes_back_what_it_wrote(dynamodb: Any) -> None:
    put(dynamodb, MAIN, "twice", v="before")
    before = everything(dynamodb)

    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=[
            update(MAIN, "twice", "first"), update(OTHER, "written", "x"), update(MAIN, "twice", "second")])

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert everything(dynamodb) == before


def test_a_successful_transaction_applies_every_write(dynamodb: Any) -> None:
    put(dynamodb, MAIN, "updated", v="before")
    put(dynamodb, MAIN, "deleted", v="gone")
    put(dynamodb, OTHER, "checked", v="here")

    dynamodb.transact_write_items(TransactItems=[
        update(MAIN, "updated", "after"),
        {"Delete": {"TableName": MAIN, "Key": key("deleted")}},
        {"Put": {"TableName": OTHER, "Item": {**key("created", OTHER), "v": {"S": "new"}}}},
        {"ConditionCheck": {"TableName": OTHER, "Key": key("checked", OTHER),
                            "ConditionExpression": "attribute_exists(pk)"}},
    ])

    assert everything(dynamodb) == {
        MAIN: [{**key("updated"), "v": {"S": "after"}}],
        OTHER: [{**key("checked", OTHER), "v": {"S": "here"}}, {**key("created", OTHER), "v": {"S": "new"}}],
    }


def test_the_gsi_answers_as_before_a_cancelled_transaction(dynamodb: Any) -> None:
    put(dynamodb, MAIN, "moved", gsi1pk="OLD", gsi1sk="1")
    put(dynamodb, MAIN, "guard")

    cancelled(dynamodb, [
        {"Update": {"TableName": MAIN, "Key": key("moved"), "UpdateExpression": "SET gsi1pk = :new",
                    "ExpressionAttributeValues": {":new": {"S": "NEW"}}}},
        {"Put": {"TableName": MAIN, "Item": {**key("added"), "gsi1pk": {"S": "OLD"}, "gsi1sk": {"S": "2"}}}},
        failing_check("guard"),
    ])

    def in_gsi(partition: str) -> list[str]:
        answer = dynamodb.query(TableName=MAIN, IndexName="gsi1", KeyConditionExpression="gsi1pk = :p",
                                ExpressionAttributeValues={":p": {"S": partition}})
        return [item["pk"]["S"] for item in answer["Items"]]

    assert in_gsi("OLD") == ["moved"]
    assert in_gsi("NEW") == []


@pytest.mark.parametrize("outcome", ["applied", "cancelled"])
def test_a_transaction_copies_the_items_it_names_never_a_whole_table(
        dynamodb: Any, monkeypatch: pytest.MonkeyPatch, outcome: str) -> None:
    def refuse(table: Table, memo: dict[int, Any]) -> None:
        raise AssertionError(f"the whole table {table.name} was copied")

    copied: list[str] = []
    copy_item = Item.__deepcopy__

    def count(item: Item, memo: dict[int, Any]) -> Item:
        copied.append(item.hash_key.value)
        return copy_item(item, memo)

    monkeypatch.setattr(Table, "__deepcopy__", refuse, raising=False)
    monkeypatch.setattr(Item, "__deepcopy__", count)

    def copies_with(fillers: int) -> list[str]:
        for i in range(fillers):
            put(dynamodb, MAIN, f"filler-{i}")
        put(dynamodb, MAIN, "updated", v="x")
        put(dynamodb, MAIN, "guard")
        copied.clear()
        transaction = [update(MAIN, "updated", "y"), {"Delete": {"TableName": MAIN, "Key": key("deleted")}}]
        if outcome == "cancelled":
            cancelled(dynamodb, [*transaction, failing_check("guard")])
        else:
            dynamodb.transact_write_items(TransactItems=transaction)
        return sorted(copied)

    few, many = copies_with(10), copies_with(2_000)
    assert few == many
    assert set(many) <= {"updated", "guard"}  # items that exist, named by the transaction


def test_moto_keeps_no_dynamodb_object_it_no_longer_needs(dynamodb: Any) -> None:
    for model in (Item, Table):
        model.instances_tracked.clear()  # type: ignore[attr-defined]
    for i in range(50):
        put(dynamodb, MAIN, f"item-{i}")
        dynamodb.query(TableName=MAIN, KeyConditionExpression="pk = :p", ExpressionAttributeValues={
            ":p": {"S": f"item-{i}"}})
    dynamodb.transact_write_items(TransactItems=[update(MAIN, "item-1", "y")])

    assert Item.instances_tracked == [] and Table.instances_tracked == []  # type: ignore[attr-defined]
