"""The boto3 call finder on small handler folders."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import aws_lambda_powertools.utilities.idempotency.persistence.dynamodb as powertools_dynamodb

from eda_sandbox.iam.calls.python import find_python_calls
from eda_sandbox.iam.helpers import PYTHON_HELPERS


def _calls(tmp_path: Path, **files: str) -> list[tuple[str, int, str, str, tuple[str, ...]]]:
    for name, source in files.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source).lstrip())
    found = find_python_calls([tmp_path])
    return sorted(
        (
            c.origin.file.name,
            c.origin.line,
            c.service,
            c.operation,
            tuple(g.show() for g in c.given),
        )
        for c in found.calls
    )


def test_a_client_passed_to_a_helper_module_is_followed(tmp_path: Path) -> None:
    calls = _calls(
        tmp_path,
        app="""
        import os
        import boto3
        from backoff import shorten

        _sqs = boto3.client("sqs")
        URL = os.environ.get("QUEUE_URL", "")

        def handler(event, context):
            shorten(_sqs, URL)
        """,
        backoff="""
        def shorten(sqs, queue_url):
            sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=[])
        """,
    )
    assert calls == [
        ("backoff.py", 2, "sqs", "ChangeMessageVisibilityBatch", ("$QUEUE_URL",)),
    ]


def test_a_layer_s_code_is_read_from_its_python_folder(tmp_path: Path) -> None:
    function, layer = tmp_path / "fn", tmp_path / "layer" / "python"
    function.mkdir()
    layer.mkdir(parents=True)
    (function / "app.py").write_text(
        "import boto3\nfrom shared import publish\n\npublish(boto3.client('sns'))\n"
    )
    (layer / "shared.py").write_text(
        "import os\n\ndef publish(sns):\n    sns.publish(TopicArn=os.environ['T'])\n"
    )
    found = find_python_calls([function, tmp_path / "layer"])
    assert [(c.origin.file, c.origin.line, c.operation) for c in found.calls] == [
        (layer / "shared.py", 4, "Publish")
    ]


def test_a_client_given_to_a_class_reaches_its_methods(tmp_path: Path) -> None:
    calls = _calls(
        tmp_path,
        app="""
        import os
        import boto3
        from batch import Batch

        batch = Batch(sqs=boto3.client("sqs"), url=os.environ.get("QUEUE_URL", ""))

        def handler(event, context):
            return batch.process(event)
        """,
        batch="""
        from backoff import shorten

        class Other:
            def __init__(self, sqs):
                self.unrelated = sqs

        class Batch:
            def __init__(self, sqs, url):
                self.sqs = sqs
                self.url = url

            def process(self, event):
                shorten(self.sqs, self.url)
        """,
        backoff="""
        def shorten(sqs, queue_url):
            sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=[])
        """,
    )
    assert calls == [("backoff.py", 2, "sqs", "ChangeMessageVisibilityBatch", ("$QUEUE_URL",))]


def test_resources_paginators_sessions_and_attributes(tmp_path: Path) -> None:
    calls = _calls(
        tmp_path,
        app="""
        import os
        import boto3

        table = boto3.resource("dynamodb").Table(os.environ["TABLE"])
        session = boto3.session.Session()

        class Store:
            def __init__(self):
                self.events = session.client("events")

            def put(self):
                self.events.put_events(Entries=[{"EventBusName": os.environ["BUS"]}])

        def handler(event, context):
            table.query(KeyConditionExpression="k")
            with table.batch_writer() as batch:
                batch.put_item(Item={})
            pages = boto3.client("s3").get_paginator("list_objects_v2")
            pages.paginate(Bucket="literal-bucket")
        """,
    )
    assert calls == [
        ("app.py", 12, "events", "PutEvents", ("$BUS",)),
        ("app.py", 15, "dynamodb", "Query", ("$TABLE",)),
        ("app.py", 16, "dynamodb", "BatchWriteItem", ("$TABLE",)),
        ("app.py", 19, "s3", "ListObjectsV2", ("'literal-bucket'",)),
    ]


def test_factories_and_a_resource_s_own_client(tmp_path: Path) -> None:
    calls = _calls(
        tmp_path,
        app="""
        import os
        import boto3

        def make():
            return boto3.client("sns")

        table = boto3.resource("dynamodb").Table(os.environ["TABLE"])
        make().publish(TopicArn=os.environ["TOPIC_ARN"], Message="m")
        table.meta.client.batch_get_item(RequestItems={})
        """,
    )
    assert calls == [
        ("app.py", 8, "sns", "Publish", ("$TOPIC_ARN",)),
        ("app.py", 9, "dynamodb", "BatchGetItem", ()),
    ]


def test_a_method_chosen_at_run_time_is_unresolved(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "import boto3\n\nsqs = boto3.client('sqs')\n\ndef f(op):\n    getattr(sqs, op)()\n"
    )
    found = find_python_calls([tmp_path])
    assert [(u.origin.line, u.reason) for u in found.unresolved] == [
        (6, "a sqs method chosen at run time")
    ]


def test_a_computed_service_is_unresolved_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "import boto3\n\nname = 'sq' + 's'\nclient = boto3.client(name)\nclient.send_message()\n"
    )
    found = find_python_calls([tmp_path])
    assert found.calls == []
    assert [(u.origin.line, u.what) for u in found.unresolved] == [
        (4, "boto3.client(...)"),
        (5, ".send_message(...)"),
    ]


def test_code_that_does_not_parse_is_listed(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(:\n")
    [unresolved] = find_python_calls([tmp_path]).unresolved
    assert unresolved.what == "app.py"
    assert "cannot be parsed" in unresolved.reason


def test_the_powertools_idempotency_entry_matches_its_source(tmp_path: Path) -> None:
    # The helper table is written by hand; Powertools' own DynamoDB layer is the truth.
    shutil.copy(powertools_dynamodb.__file__, tmp_path / "dynamodb.py")
    found = find_python_calls([tmp_path])
    called = {(c.service, c.operation) for c in found.calls}
    helper = PYTHON_HELPERS[("aws_lambda_powertools", "DynamoDBPersistenceLayer")]
    assert called == {(helper.service, op) for op in helper.operations}
