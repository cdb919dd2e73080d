"""Fixtures for the reference application's unit tests: no sandbox, DynamoDB from moto.

Every function folder has an app.py that imports sibling modules by their bare names
(``domain``), as Lambda does from the package root, and the shared layer's ``eda_events``,
which Lambda finds in /opt/python: here the layer's python/ folder goes on sys.path. The
loader imports one folder's modules as a set and then removes the bare names from
sys.modules, so folders never see each other's modules.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import itertools
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

REPO = Path(__file__).resolve().parents[3]
HANDLERS = REPO / "handlers"
SHARED_LAYER = REPO / "layers" / "shared" / "python"
FUNCTIONS = ("user_signup_handler", "order_consumer", "order_fifo_consumer", "order_placed_handler")
LOCAL_MODULES = ("domain", "app")
REGION = "us-east-1"
ACCOUNT = "123456789012"

# Table names given to the functions; the keys are the contract's.
TABLES: dict[str, tuple[str, str]] = {
    "USERS_TABLE": ("Users", "user_id"),
    "ORDERS_TABLE": ("Orders", "order_id"),
    "SEQUENCES_TABLE": ("Sequences", "customer_id"),
    "PLACED_ORDERS_TABLE": ("PlacedOrders", "order_id"),
    "IDEMPOTENCY_TABLE": ("Idempotency", "id"),
}
FUNCTION_ENV: dict[str, tuple[str, ...]] = {
    "user_signup_handler": ("USERS_TABLE", "IDEMPOTENCY_TABLE"),
    "order_consumer": ("ORDERS_TABLE", "IDEMPOTENCY_TABLE"),
    "order_fifo_consumer": ("SEQUENCES_TABLE", "IDEMPOTENCY_TABLE"),
    "order_placed_handler": ("PLACED_ORDERS_TABLE", "IDEMPOTENCY_TABLE"),
}

_load_counter = itertools.count()
if str(SHARED_LAYER) not in sys.path:
    sys.path.insert(0, str(SHARED_LAYER))


def load_function_modules(function: str, modules: tuple[str, ...]) -> SimpleNamespace:
    """Import ``modules`` (in order) from handlers/<function>/ as one coherent set."""
    folder = HANDLERS / function
    saved = {name: sys.modules.pop(name) for name in LOCAL_MODULES if name in sys.modules}
    sys.path.insert(0, str(folder))
    loaded: dict[str, ModuleType] = {}
    try:
        for name in modules:
            # Unique module names keep tracebacks and Powertools' idempotency key prefix
            # readable while the bare name resolves the folder's own imports.
            unique = f"_fn_{function}_{name}_{next(_load_counter)}"
            spec = importlib.util.spec_from_file_location(unique, folder / f"{name}.py")
            assert spec is not None
            assert spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            sys.modules[unique] = module
            spec.loader.exec_module(module)
            loaded[name] = module
    finally:
        sys.path.remove(str(folder))
        for name in LOCAL_MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
    return SimpleNamespace(**loaded)


@pytest.fixture(params=FUNCTIONS)
def any_function(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def domain_of() -> Callable[[str], SimpleNamespace]:
    """A function's domain module and the shared models, without AWS or environment."""

    def load(function: str) -> SimpleNamespace:
        loaded = load_function_modules(function, ("domain",))
        loaded.models = importlib.import_module("eda_events.models")
        return loaded

    return load


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Moto-backed AWS with every application table created; yields a DynamoDB resource."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name=REGION)
        for table_name, key in TABLES.values():
            dynamodb.create_table(
                TableName=table_name,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        yield dynamodb


@dataclass
class FakeLambdaContext:
    function_name: str
    memory_limit_in_mb: int = 128
    aws_request_id: str = "3f9c6f2e-0000-4000-8000-000000000001"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass
class LoadedHandler:
    app: ModuleType
    context: FakeLambdaContext
    logs: io.StringIO

    def __call__(self, event: dict[str, Any]) -> Any:
        return self.app.handler(event, self.context)

    def log_lines(self) -> list[dict[str, Any]]:
        """Every JSON log line written so far (EMF metric lines excluded: they go to stdout)."""
        return [json.loads(line) for line in self.logs.getvalue().splitlines() if line]


@pytest.fixture
def load_handler(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], LoadedHandler]:
    """Import handlers/<function>/app.py with its env vars set, logs captured in memory."""

    def load(function: str) -> LoadedHandler:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", function)
        for variable in FUNCTION_ENV[function]:
            monkeypatch.setenv(variable, TABLES[variable][0])
        modules = load_function_modules(function, LOCAL_MODULES)
        logs = io.StringIO()
        # Powertools keeps the first handler bound to a service name across imports;
        # point it at a fresh buffer so each test reads only its own lines.
        modules.app.logger.registered_handler.setStream(logs)
        return LoadedHandler(modules.app, FakeLambdaContext(function), logs)

    return load


@pytest.fixture
def table(aws: Any) -> Callable[[str], Any]:
    """A moto table by its environment variable name, e.g. table("ORDERS_TABLE")."""
    return lambda variable: aws.Table(TABLES[variable][0])


# --- events, shaped as AWS documents them for Lambda -------------------------------


def order(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_type": "order_placed",
        "event_id": "evt-o1",
        "correlation_id": "corr-o1",
        "order_id": "o1",
        "customer_id": "c1",
        "sku": "SKU-1",
        "quantity": 2,
        "amount": 9.5,
    }
    body.update(overrides)
    return body


def signup(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_type": "user_signup",
        "event_id": "evt-u1",
        "correlation_id": "corr-u1",
        "user_id": "u1",
        "email": "ann@example.com",
        "name": "Ann",
    }
    body.update(overrides)
    return body


def sqs_record(
    body: str | dict[str, Any],
    message_id: str,
    *,
    group_id: str | None = None,
    attributes: dict[str, str] | None = None,
    queue: str = "EventQueue",
) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    record_attributes = {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1545082649183",
        "SenderId": "AIDAIENQZJOLO23YVJ4VO",
        "ApproximateFirstReceiveTimestamp": "1545082649185",
    }
    if group_id is not None:
        record_attributes["SequenceNumber"] = str(18849496460467696128 + len(message_id))
        record_attributes["MessageGroupId"] = group_id
        record_attributes["MessageDeduplicationId"] = message_id
    return {
        "messageId": message_id,
        "receiptHandle": f"AQEB{message_id}",
        "body": text,
        "attributes": record_attributes,
        "messageAttributes": {
            name: {
                "stringValue": value,
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            }
            for name, value in (attributes or {}).items()
        },
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
        "awsRegion": REGION,
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def sns_event(
    message: str | dict[str, Any], attributes: dict[str, str] | None = None
) -> dict[str, Any]:
    text = message if isinstance(message, str) else json.dumps(message)
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:EventTopic"
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:21be56ed-a058-49f5-8c98-aedd2564c486",
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": "2019-01-02T12:45:07.000Z",
                    "Signature": "tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j==",
                    "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/cert.pem",
                    "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                    "Message": text,
                    "MessageAttributes": {
                        name: {"Type": "String", "Value": value}
                        for name, value in (attributes or {}).items()
                    },
                    "Type": "Notification",
                    "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                    "TopicArn": topic,
                    "Subject": None,
                },
            }
        ]
    }


def eventbridge_event(detail: Any, event_id: str = "eb-1") -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "application.event",
        "source": "my.application",
        "account": ACCOUNT,
        "time": "2017-12-22T18:43:48Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


@pytest.fixture
def events() -> SimpleNamespace:
    """Event builders (fixtures, so test modules need not import this conftest)."""
    return SimpleNamespace(
        order=order,
        signup=signup,
        sqs_record=sqs_record,
        sqs_event=sqs_event,
        sns_event=sns_event,
        eventbridge_event=eventbridge_event,
    )
