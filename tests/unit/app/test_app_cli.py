"""``python -m eda_app``: arguments to events, routing, output and exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from eda_app import cli, producers

TOPIC = "arn:aws:sns:us-east-1:123456789012:EventTopic-t1"
FIFO_TOPIC = "arn:aws:sns:us-east-1:123456789012:OrderTopic-t1.fifo"
BUS = "arn:aws:events:us-east-1:123456789012:event-bus/app-bus-t1"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("publish", kwargs))
        return {"MessageId": "m"}

    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("put_events", kwargs))
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "x"} for _ in kwargs["Entries"]]}


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    outputs = {
        "topics": {"EventTopic": {"arn": TOPIC}, "OrderTopic.fifo": {"arn": FIFO_TOPIC}},
        "buses": {"app-bus": {"arn": BUS}},
    }
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    monkeypatch.setenv("EDA_SANDBOX_STATE_DIR", str(tmp_path))
    recorder = Recorder()
    monkeypatch.setattr(producers, "default_client", lambda service: recorder)
    return recorder


def printed_ids(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    out = capsys.readouterr().out.strip()
    return dict(part.split("=", 1) for part in out.split())


def test_user_signup(aws: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        ["publish", "user_signup", "--user-id", "u1", "--email", "a@b.c", "--name", "Ann"]
    )

    assert code == 0
    ids = printed_ids(capsys)
    ((method, call),) = aws.calls
    body = json.loads(call["Message"])
    assert method == "publish"
    assert call["TopicArn"] == TOPIC
    assert body == {
        "event_type": "user_signup",
        "user_id": "u1",
        "email": "a@b.c",
        "name": "Ann",
        "event_id": ids["event_id"],
        "correlation_id": ids["correlation_id"],
    }


ORDER_ARGS = [
    "publish",
    "order",
    "--order-id",
    "o1",
    "--customer-id",
    "c1",
    "--sku",
    "S",
    "--quantity",
    "2",
    "--amount",
    "9.5",
]


def test_order_via_sns_by_default(aws: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*ORDER_ARGS, "--correlation-id", "flow-1"]) == 0

    ((method, call),) = aws.calls
    body = json.loads(call["Message"])
    assert (method, call["TopicArn"]) == ("publish", TOPIC)
    assert (body["quantity"], body["amount"]) == (2, 9.5)
    assert call["MessageAttributes"]["event_type"]["StringValue"] == "order_placed"
    assert printed_ids(capsys)["correlation_id"] == "flow-1"


def test_order_via_eventbridge(aws: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*ORDER_ARGS, "--via", "eventbridge", "--event-id", "e-7"]) == 0

    ((method, call),) = aws.calls
    (entry,) = call["Entries"]
    assert method == "put_events"
    assert entry["EventBusName"] == BUS
    assert json.loads(entry["Detail"])["event_id"] == "e-7"
    assert printed_ids(capsys)["event_id"] == "e-7"


def test_order_via_fifo(aws: Recorder) -> None:
    assert cli.main([*ORDER_ARGS, "--via", "fifo", "--seq", "4"]) == 0

    ((_, call),) = aws.calls
    assert call["TopicArn"] == FIFO_TOPIC
    assert (call["MessageGroupId"], call["MessageDeduplicationId"]) == ("c1", "o1")
    assert json.loads(call["Message"])["seq"] == 4


def test_fifo_without_seq_is_an_error(aws: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*ORDER_ARGS, "--via", "fifo"]) == 1
    assert "--seq" in capsys.readouterr().err
    assert aws.calls == []


def test_integer_amount_stays_an_integer(aws: Recorder) -> None:
    args = [*ORDER_ARGS]
    args[args.index("9.5")] = "10"
    assert cli.main(args) == 0
    assert json.loads(aws.calls[0][1]["Message"])["amount"] == 10


def test_raw_file(aws: Recorder, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = {"event_type": "order_placed", "order_id": "o1", "sku": "POISON", "event_id": "e-r"}
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))

    assert cli.main(["publish", "raw", "--file", str(path), "--no-validate"]) == 0

    body = json.loads(aws.calls[0][1]["Message"])
    # Sent as written: --no-validate leaves the rejection to the consumer.
    assert {k: body[k] for k in event} == event
    assert printed_ids(capsys)["event_id"] == "e-r"


def test_order_the_consumer_would_reject_is_refused_naming_the_field(
    aws: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["publish", "order", "--quantity", "-1", "--amount", "-5", "--order-id", ""]
    args += ["--customer-id", "c1", "--sku", "S"]

    assert cli.main(args) == 1

    err = capsys.readouterr().err
    assert "invalid event: order_id is '': must be a non-empty string" in err
    assert "rejected by order_consumer's model, layers/shared/python/eda_events/models.py" in err
    assert aws.calls == []


@pytest.mark.parametrize(
    ("via", "consumer"),
    [
        ("sns", "order_consumer"),
        ("fifo", "order_fifo_consumer"),
        ("eventbridge", "order_placed_handler"),
    ],
)
def test_each_route_is_checked_by_its_own_consumer(
    aws: Recorder, capsys: pytest.CaptureFixture[str], via: str, consumer: str
) -> None:
    args = [*ORDER_ARGS, "--via", via, "--seq", "1"]
    args[args.index("2")] = "0"  # quantity 0

    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "quantity is 0: must be >= 1" in err and f"rejected by {consumer}'s model" in err


def test_no_validate_sends_a_bad_order_as_given(aws: Recorder) -> None:
    args = [*ORDER_ARGS, "--no-validate"]
    args[args.index("2")] = "-1"
    args[args.index("9.5")] = "-5"

    assert cli.main(args) == 0
    body = json.loads(aws.calls[0][1]["Message"])
    assert (body["quantity"], body["amount"]) == (-1, -5)


def test_option_values_may_start_with_a_dash(aws: Recorder) -> None:
    args = ["publish", "user_signup", "--user-id", "-u1", "--email", "-a@b.c", "--name", "-Ann"]

    assert cli.main(args) == 0
    body = json.loads(aws.calls[0][1]["Message"])
    assert (body["user_id"], body["email"], body["name"]) == ("-u1", "-a@b.c", "-Ann")


def test_raw_from_stdin(aws: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"event_type": "user_signup"}'))
    assert cli.main(["publish", "raw", "--file", "-", "--via", "eventbridge"]) == 0
    assert aws.calls[0][0] == "put_events"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{nope", "--file is not JSON"),
        ('{"event_type": "mystery"}', "event_type 'mystery' is not one of"),
        ("[1]", "message must be a JSON object"),
    ],
)
def test_raw_errors_exit_1(
    aws: Recorder, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "event.json"
    path.write_text(content)

    assert cli.main(["publish", "raw", "--file", str(path)]) == 1
    assert message in capsys.readouterr().err
    assert aws.calls == []


def test_missing_file_exit_1(aws: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["publish", "raw", "--file", "/nonexistent/event.json"]) == 1
    assert "cannot be read" in capsys.readouterr().err


def test_missing_outputs_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EDA_SANDBOX_STATE_DIR", str(tmp_path / "empty"))
    assert cli.main([*ORDER_ARGS]) == 1
    assert "apply the topology first" in capsys.readouterr().err


def test_explicit_outputs_option(
    aws: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"topics": {"EventTopic": {"arn": "arn:other"}}}))
    monkeypatch.setenv("EDA_SANDBOX_STATE_DIR", str(tmp_path / "empty"))

    assert cli.main(["--outputs", str(other), *ORDER_ARGS]) == 0
    assert aws.calls[0][1]["TopicArn"] == "arn:other"


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main([*ORDER_ARGS[:-2], "--amount", "lots"])
    assert caught.value.code == 2
    assert "'lots' is not a number" in capsys.readouterr().err


def test_module_entry_point_runs(tmp_path: Path) -> None:
    # The real `python -m eda_app` path, stopped at a failure that needs no network.
    result = subprocess.run(
        [sys.executable, "-m", "eda_app", "publish", "raw", "--file", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "", "EDA_SANDBOX_STATE_DIR": str(tmp_path)},
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: invalid event: --file cannot be read")
