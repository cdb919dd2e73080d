"""The AWS SDK for JavaScript call finder (v3 commands, v2 clients) on a small handler."""

from __future__ import annotations

import textwrap
from pathlib import Path

from eda_sandbox.iam.calls.base import Given
from eda_sandbox.iam.calls.node import find_node_calls

HANDLER = """
import { SQSClient, ChangeMessageVisibilityBatchCommand } from "@aws-sdk/client-sqs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, UpdateCommand as Update } from "@aws-sdk/lib-dynamodb";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
const AWS = require("aws-sdk");
const { SNS } = require("@aws-sdk/client-sns");

const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const table = process.env.ORDERS_TABLE;
const persistence = new DynamoDBPersistenceLayer({ tableName: process.env.IDEMPOTENCY_TABLE });

export const handler = async (event) => {
  await doc.send(new PutCommand({ TableName: table, Item: {} }));
  await doc.send(new Update({ TableName: process.env["ORDERS_TABLE"], Key: {} }));
  await new SQSClient({}).send(
    new ChangeMessageVisibilityBatchCommand({ QueueUrl: process.env.QUEUE_URL, Entries: [] }),
  );
  await new EventBridgeClient({}).send(
    new PutEventsCommand({ Entries: [{ EventBusName: process.env.BUS }] }),
  );
  await new AWS.SQS().sendMessage({ QueueUrl: process.env.QUEUE_URL }).promise();
  await new AWS.DynamoDB.DocumentClient().batchWrite({ RequestItems: {} }).promise();
  await new SNS({}).publish({ TopicArn: process.env.TOPIC_ARN });
  const client = new AWS[event.service]();
  return event?.records ?? [];
};
"""


def test_v3_v2_document_client_and_powertools_calls(tmp_path: Path) -> None:
    (tmp_path / "index.mjs").write_text(textwrap.dedent(HANDLER).lstrip())
    found = find_node_calls([tmp_path])
    calls = sorted(
        (c.origin.line, c.service, c.operation, tuple(g.show() for g in c.given))
        for c in found.calls
    )
    idempotency = [
        (11, "dynamodb", op, ("$IDEMPOTENCY_TABLE",))
        for op in ("DeleteItem", "GetItem", "PutItem", "UpdateItem")
    ]
    assert calls == [
        *idempotency,
        (14, "dynamodb", "PutItem", ("$ORDERS_TABLE",)),
        (15, "dynamodb", "UpdateItem", ("$ORDERS_TABLE",)),
        (17, "sqs", "ChangeMessageVisibilityBatch", ("$QUEUE_URL",)),
        (20, "events", "PutEvents", ("$BUS",)),
        (22, "sqs", "SendMessage", ("$QUEUE_URL",)),
        (23, "dynamodb", "BatchWriteItem", ()),
        (24, "sns", "Publish", ("$TOPIC_ARN",)),
    ]
    assert [(u.origin.line, u.reason) for u in found.unresolved] == [
        (25, "the service is computed")
    ]


def test_a_client_passed_to_another_file_s_function_is_followed(tmp_path: Path) -> None:
    (tmp_path / "index.mjs").write_text(
        'import { SQSClient } from "@aws-sdk/client-sqs";\n'
        'import { shorten } from "./backoff.mjs";\n'
        "const URL = process.env.QUEUE_URL ?? '';\n"
        "export const handler = async () => shorten(new SQSClient({}), URL);\n"
    )
    (tmp_path / "backoff.mjs").write_text(
        'import { ChangeMessageVisibilityBatchCommand } from "@aws-sdk/client-sqs";\n'
        "export async function shorten(sqs, queueUrl, entries = []) {\n"
        "  await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl }));\n"
        "}\n"
    )
    [call] = find_node_calls([tmp_path]).calls
    assert (call.origin.file.name, call.origin.line, call.given) == (
        "backoff.mjs",
        3,
        (Given(env="QUEUE_URL"),),
    )


def test_node_modules_is_not_read(tmp_path: Path) -> None:
    vendored = tmp_path / "node_modules" / "x"
    vendored.mkdir(parents=True)
    (vendored / "index.js").write_text('new (require("aws-sdk").SQS)().sendMessage({});\n')
    assert find_node_calls([tmp_path]).files == []
