"""A Query on the table's key, in moto as the embedded AWS patches it
(securelogin_local.moto_queries): the same answers, read from the partition alone."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import Table

from securelogin_local import moto_queries


@pytest.fixture
def table(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        moto_queries.install()
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "S"},
                                                  {"AttributeName": "g", "AttributeType": "S"}],
                            GlobalSecondaryIndexes=[{"IndexName": "gsi", "Projection": {"ProjectionType": "ALL"},
                                                     "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}])
        for user in ("alice", "bob", "carol"):
            for n in (3, 1, 2):
                client.put_item(TableName="t", Item={"pk": {"S": f"USER#{user}"}, "sk": {"S": f"ITEM#{n}"},
                                                     "g": {"S": f"G#{n}"}})
        yield client


def keys(answer):
    return [(i["pk"]["S"], i["sk"]["S"]) for i in answer["Items"]]


def test_a_query_answers_its_partition_in_order_without_reading_the_table(table, monkeypatch):
    def whole_table(self):
        raise AssertionError("the whole table was read")

    monkeypatch.setattr(Table, "all_items", whole_table)
    answer = table.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={
        ":p": {"S": "USER#bob"}}, ScanIndexForward=False)
    assert keys(answer) == [("USER#bob", "ITEM#3"), ("USER#bob", "ITEM#2"), ("USER#bob", "ITEM#1")]
    ranged = table.query(TableName="t", KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                         ExpressionAttributeValues={":p": {"S": "USER#bob"}, ":s": {"S": "ITEM#2"}})
    assert keys(ranged) == [("USER#bob", "ITEM#2")]
    assert table.query(TableName="t", KeyConditionExpression="pk = :p",
                       ExpressionAttributeValues={":p": {"S": "USER#nobody"}})["Items"] == []


def test_a_query_on_an_index_still_sees_every_partition(table):
    answer = table.query(TableName="t", IndexName="gsi", KeyConditionExpression="g = :g",
                         ExpressionAttributeValues={":g": {"S": "G#2"}})
    assert sorted(keys(answer)) == [("USER#alice", "ITEM#2"), ("USER#bob", "ITEM#2"), ("USER#carol", "ITEM#2")]


def test_a_paged_query_goes_on_where_it_stopped(table):
    first = table.query(TableName="t", KeyConditionExpression="pk = :p", Limit=2,
                        ExpressionAttributeValues={":p": {"S": "USER#carol"}})
    rest = table.query(TableName="t", KeyConditionExpression="pk = :p", ExclusiveStartKey=first["LastEvaluatedKey"],
                       ExpressionAttributeValues={":p": {"S": "USER#carol"}})
    assert keys(first) + keys(rest) == [("USER#carol", f"ITEM#{n}") for n in (1, 2, 3)]
