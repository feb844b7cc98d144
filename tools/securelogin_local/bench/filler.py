"""Extra items for the table, to see whether a request's cost depends on the table's size.

The filler is realistic: copies of every item a real user has (profile, devices, answer
slots, audit events), each copy in partitions of its own (``USER#<name>~<n>``,
``AUDIT#<name>~<n>``), with its device and account ids made unique, so that the global
secondary index grows with the table as it would in production."""
from __future__ import annotations

import concurrent.futures
import time
from typing import Any

import boto3

KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk")
BATCH = 25  # BatchWriteItem's limit


def dynamodb(endpoint_url: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=endpoint_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")  # noqa: S106


def table_name(client: Any) -> str:
    names = client.list_tables()["TableNames"]
    if len(names) != 1:
        raise RuntimeError(f"expected the stack's one table, found {names}")
    return names[0]


def item_count(client: Any, table: str) -> int:
    """Items in the table, counted by a Scan (the bench's, not the service's)."""
    count, start = 0, None
    while True:
        page = client.scan(TableName=table, Select="COUNT", **({"ExclusiveStartKey": start} if start else {}))
        count += page["Count"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return count


def template_items(client: Any, table: str, username: str) -> list[dict[str, Any]]:
    """Every item of ``username``: its user partition and its audit trail."""
    items: list[dict[str, Any]] = []
    for pk in (f"USER#{username}", f"AUDIT#{username}"):
        items += client.query(TableName=table, KeyConditionExpression="pk = :pk",
                              ExpressionAttributeValues={":pk": {"S": pk}})["Items"]
    if not items:
        raise RuntimeError(f"no items for {username}")
    return items


def _identifiers(items: list[dict[str, Any]], username: str) -> list[str]:
    """The strings that make an item someone's: the username, device and account ids."""
    found = {username}
    for item in items:
        for name in KEY_ATTRIBUTES:
            value = item.get(name, {}).get("S", "")
            for prefix in ("DEVICE#", "ACCOUNT#"):
                if value.startswith(prefix):
                    found.add(value.removeprefix(prefix))
    return sorted(found, key=len, reverse=True)  # longest first: no id is replaced inside another


def copy_of(item: dict[str, Any], identifiers: list[str], copy: int) -> dict[str, Any]:
    """``item`` as it would be for the ``copy``-th other user: its keys made unique."""
    made = dict(item)
    for name in KEY_ATTRIBUTES:
        if name in made and "S" in made[name]:
            value = made[name]["S"]
            for identifier in identifiers:
                value = value.replace(identifier, f"{identifier}~{copy}")
            made[name] = {"S": value}
    return made


def fill(client: Any, table: str, template: list[dict[str, Any]], username: str, count: int,
         first_copy: int = 0, threads: int = 4) -> tuple[float, int]:
    """Writes ``count`` items (copies ``first_copy``, ``first_copy``+1, ... of ``template``).
    Returns the seconds it took and the next copy number."""
    identifiers = _identifiers(template, username)
    items = []
    copy = first_copy
    while len(items) < count:
        items += [copy_of(item, identifiers, copy) for item in template]
        copy += 1
    items = items[:count]
    batches = [items[i:i + BATCH] for i in range(0, len(items), BATCH)]

    def write(batch: list[dict[str, Any]]) -> None:
        request = {table: [{"PutRequest": {"Item": item}} for item in batch]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, batches))
    return time.perf_counter() - started, copy
