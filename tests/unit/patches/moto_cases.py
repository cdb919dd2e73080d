"""Runs DynamoDB requests through moto and prints what each returned, as JSON.

``python moto_cases.py plain|patched``: the speed-up test runs it both ways in fresh
processes (the patches cannot be undone) and expects identical output.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

os.environ.update(AWS_ACCESS_KEY_ID="t", AWS_SECRET_ACCESS_KEY="t", AWS_DEFAULT_REGION="us-east-1")
# moto intercepts AWS's endpoints only: with a sandbox's AWS_ENDPOINT_URL exported (as the
# Makefile's users do), boto3 would send these cases to the sandbox instead.
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

UPDATES: list[dict[str, Any]] = [
    {
        "UpdateExpression": "SET #s = :s, #d = :d",
        "ExpressionAttributeNames": {"#s": "status", "#d": "data"},
        "ExpressionAttributeValues": {":s": {"S": "COMPLETED"}, ":d": {"S": "x"}},
    },
    {
        "UpdateExpression": "SET #c = if_not_exists(#c, :zero) + :one",
        "ExpressionAttributeNames": {"#c": "count"},
        "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"}},
    },
    {
        "UpdateExpression": "SET #c = #c - :one",
        "ExpressionAttributeNames": {"#c": "count"},
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    },
    {
        "UpdateExpression": "SET #l = list_append(if_not_exists(#l, :empty), :v)",
        "ExpressionAttributeNames": {"#l": "list"},
        "ExpressionAttributeValues": {":empty": {"L": []}, ":v": {"L": [{"S": "a"}]}},
    },
    {
        "UpdateExpression": "SET #m = :m",
        "ExpressionAttributeNames": {"#m": "map"},
        "ExpressionAttributeValues": {":m": {"M": {"a": {"M": {"b": {"N": "1"}}}}}},
    },
    {
        "UpdateExpression": "SET #m.a.b = :v, #m.c = :v",
        "ExpressionAttributeNames": {"#m": "map"},
        "ExpressionAttributeValues": {":v": {"N": "7"}},
    },
    {
        "UpdateExpression": "REMOVE #m.a, #d",
        "ExpressionAttributeNames": {"#m": "map", "#d": "data"},
    },
    {
        "UpdateExpression": "ADD tags :t, total :n",
        "ExpressionAttributeValues": {":t": {"SS": ["x", "y"]}, ":n": {"N": "5"}},
    },
    {"UpdateExpression": "DELETE tags :t", "ExpressionAttributeValues": {":t": {"SS": ["x"]}}},
    {
        "UpdateExpression": "SET #l[0] = :v",
        "ExpressionAttributeNames": {"#l": "list"},
        "ExpressionAttributeValues": {":v": {"S": "b"}},
    },
    # errors moto must keep reporting the same way
    {"UpdateExpression": "SET id = :v", "ExpressionAttributeValues": {":v": {"S": "new"}}},
    {
        "UpdateExpression": "SET a = :v",
        "ExpressionAttributeValues": {":v": {"S": "x"}, ":unused": {"S": "y"}},
    },
    {"UpdateExpression": "SET a = :missing", "ExpressionAttributeValues": {":v": {"S": "x"}}},
    {"UpdateExpression": "SET a = #missing", "ExpressionAttributeValues": {":v": {"S": "x"}}},
    {"UpdateExpression": "SET a = b + :v", "ExpressionAttributeValues": {":v": {"N": "1"}}},
    {
        "UpdateExpression": "SET #c = #c + :s",
        "ExpressionAttributeNames": {"#c": "count"},
        "ExpressionAttributeValues": {":s": {"S": "x"}},
    },
    {"UpdateExpression": "SET a = :v, a = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
    # The same expression passes with one set of names and overlaps with another.
    {
        "UpdateExpression": "SET #x = :v, #y = :v",
        "ExpressionAttributeNames": {"#x": "a", "#y": "b"},
        "ExpressionAttributeValues": {":v": {"S": "x"}},
    },
    {
        "UpdateExpression": "SET #x = :v, #y = :v",
        "ExpressionAttributeNames": {"#x": "a", "#y": "a"},
        "ExpressionAttributeValues": {":v": {"S": "x"}},
    },
    {"UpdateExpression": "SET a = :v SET b = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
    {
        "UpdateExpression": "ADD n :one ADD m :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    },
    {
        "UpdateExpression": "SET #e = :e, #c = :c, #k = :k, #q = :q, #w = :w ADD #n :one",
        "ExpressionAttributeNames": {
            "#e": "event_id",
            "#c": "customer",
            "#k": "sku",
            "#q": "quantity",
            "#w": "written",
            "#n": "write_count",
        },
        "ExpressionAttributeValues": {
            ":e": {"S": "e-1"},
            ":c": {"S": "c-1"},
            ":k": {"S": "SKU"},
            ":q": {"N": "2"},
            ":w": {"N": "1.5"},
            ":one": {"N": "1"},
        },
    },
    # The same expression passes, then names the key attribute.
    {
        "UpdateExpression": "SET #x = :v, #y = :v",
        "ExpressionAttributeNames": {"#x": "c", "#y": "b"},
        "ExpressionAttributeValues": {":v": {"S": "x"}},
    },
    {
        "UpdateExpression": "SET #x = :v, #y = :v",
        "ExpressionAttributeNames": {"#x": "id", "#y": "b"},
        "ExpressionAttributeValues": {":v": {"S": "x"}},
    },
    {"UpdateExpression": "SET a = :v REMOVE", "ExpressionAttributeValues": {":v": {"S": "x"}}},
    {
        "UpdateExpression": "SET #s = :s",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":s": {"S": "DONE"}, ":now": {"N": "1"}},
        "ConditionExpression": "attribute_not_exists(id) OR expiration < :now",
    },
]


RETURN_VALUES = ("ALL_NEW", "ALL_OLD", "UPDATED_OLD", "UPDATED_NEW", "NONE")

# Conditional writes, as Powertools' idempotency layer sends them, each twice.
PUTS: list[dict[str, Any]] = [
    {"ConditionExpression": "attribute_not_exists(id)"},
    {
        "ConditionExpression": "attribute_not_exists(id) OR #e < :now",
        "ExpressionAttributeNames": {"#e": "expiration"},
        "ExpressionAttributeValues": {":now": {"N": "5"}},
    },
    {
        "ConditionExpression": "attribute_exists(id) AND #s <> :done",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":done": {"S": "COMPLETED"}},
    },
    {
        "ConditionExpression": "(#s IN (:a, :b)) AND NOT begins_with(id, :p)",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":a": {"S": "x"}, ":b": {"S": "y"}, ":p": {"S": "z"}},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    },
    {"ConditionExpression": "attribute_not_exists(id) OR", "ExpressionAttributeValues": {}},
]


def _puts(client: Any) -> list[Any]:
    out: list[Any] = []
    for i, put in enumerate(PUTS * 2):
        item = {"id": {"S": "put-shared"}, "status": {"S": f"s{i % 3}"}, "expiration": {"N": "1"}}
        try:
            out.append(client.put_item(TableName="t", Item=item, ReturnValues="ALL_OLD", **put))
        except ClientError as e:
            out.append(["error", e.response["Error"]["Code"], e.response["Error"].get("Message")])
            out.append(e.response.get("Item"))
    for r in out:
        if isinstance(r, dict):
            r.pop("ResponseMetadata", None)
    return out


def run() -> list[Any]:
    out: list[Any] = []
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for key in ("new-each", "shared"):
            for i, update in enumerate(UPDATES * 2):  # twice: a cached parse must not leak
                item_key = f"{key}-{i}" if key == "new-each" else key
                try:
                    response = client.update_item(
                        TableName="t",
                        Key={"id": {"S": item_key}},
                        ReturnValues=RETURN_VALUES[i % len(RETURN_VALUES)],
                        **update,
                    )
                    out.append(response.get("Attributes"))
                except ClientError as e:
                    out.append(
                        ["error", e.response["Error"]["Code"], e.response["Error"]["Message"]]
                    )
        out.extend(_puts(client))
        out.append(client.scan(TableName="t")["Items"])
    return out


if __name__ == "__main__":
    if sys.argv[1] == "patched":
        from eda_sandbox.patches import moto as moto_patch

        moto_patch.apply()
    print(json.dumps(run(), sort_keys=True))
