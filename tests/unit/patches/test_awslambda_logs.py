"""Batched Lambda log shipping: same events, fewer PutLogEvents calls, limits kept."""

from __future__ import annotations

import threading
import time
from queue import Queue
from typing import Any

import pytest
from localstack.services.lambda_.invocation.logs import QUEUE_SHUTDOWN, LogHandler, LogItem

from eda_sandbox.patches.awslambda import logs as lambda_logs
from eda_sandbox.patches.awslambda.logs import _Queued


class NotFound(Exception):
    pass


class Exists(Exception):
    pass


class FakeLogs:
    """Records calls; streams must be created before events are accepted."""

    class exceptions:
        ResourceNotFoundException = NotFound
        ResourceAlreadyExistsException = Exists

    def __init__(self, fail_group: str | None = None) -> None:
        self.groups: set[str] = set()
        self.streams: set[tuple[str, str]] = set()
        self.puts: list[tuple[str, str, list[dict[str, Any]]]] = []
        self.fail_group = fail_group

    def put_log_events(self, logGroupName: str, logStreamName: str, logEvents: list) -> None:
        if logGroupName == self.fail_group:
            raise RuntimeError("boom")
        if (logGroupName, logStreamName) not in self.streams:
            raise NotFound(logStreamName)
        self.puts.append((logGroupName, logStreamName, logEvents))

    def create_log_group(self, logGroupName: str) -> None:
        if logGroupName in self.groups:
            raise Exists(logGroupName)
        self.groups.add(logGroupName)

    def create_log_stream(self, logGroupName: str, logStreamName: str) -> None:
        self.streams.add((logGroupName, logStreamName))


def _handler(*entries: Any) -> LogHandler:
    handler = LogHandler("arn:aws:iam::000000000000:role/r", "us-east-1")
    for entry in entries:
        handler.log_queue.put(entry)
    return handler


def _q(group: str, stream: str, logs: str, ms: int) -> _Queued:
    return _Queued(LogItem(group, stream, logs), ms)


def test_queued_invocations_of_a_stream_go_in_one_call_in_order() -> None:
    client = FakeLogs()
    handler = _handler(
        _q("/aws/lambda/f", "s1", "START\nline a\n\nEND\n", 1000),
        _q("/aws/lambda/f", "s2", "other stream\n", 1001),
        _q("/aws/lambda/f", "s1", "line b\n", 1002),
        QUEUE_SHUTDOWN,
    )
    lambda_logs.run_log_loop(handler, client, QUEUE_SHUTDOWN)

    by_stream = {stream: events for _, stream, events in client.puts}
    assert len(client.puts) == 2
    assert [e["message"] for e in by_stream["s1"]] == ["START\n", "line a\n", "END\n", "line b\n"]
    assert [e["timestamp"] for e in by_stream["s1"]] == [1000, 1000, 1000, 1002]
    assert by_stream["s2"] == [{"timestamp": 1001, "message": "other stream\n"}]
    assert client.groups == {"/aws/lambda/f"}


def test_times_never_go_backwards_within_a_stream() -> None:
    events = lambda_logs.events_of([_q("g", "s", "a\n", 2000), _q("g", "s", "b\n", 1500)])
    assert [e["timestamp"] for e in events[("g", "s")]] == [2000, 2000]


def test_calls_stay_within_put_log_events_limits() -> None:
    many = [{"timestamp": 1, "message": "x\n"} for _ in range(lambda_logs.MAX_EVENTS + 1)]
    assert [len(c) for c in lambda_logs.chunks(many)] == [lambda_logs.MAX_EVENTS, 1]

    big = "y" * 300_000 + "\n"
    sized = [{"timestamp": 1, "message": big} for _ in range(4)]
    chunks = list(lambda_logs.chunks(sized))
    assert [len(c) for c in chunks] == [3, 1]
    for chunk in chunks:
        total = sum(len(e["message"].encode()) + lambda_logs.EVENT_OVERHEAD for e in chunk)
        assert total <= lambda_logs.MAX_BYTES


def test_a_failed_upload_is_logged_and_shipping_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    client = FakeLogs(fail_group="/aws/lambda/broken")
    handler = _handler(_q("/aws/lambda/broken", "s", "lost\n", 1), QUEUE_SHUTDOWN)
    lambda_logs.run_log_loop(handler, client, QUEUE_SHUTDOWN)
    assert "Error saving logs to group /aws/lambda/broken" in caplog.text

    handler = _handler(_q("/aws/lambda/ok", "s", "kept\n", 2), QUEUE_SHUTDOWN)
    lambda_logs.run_log_loop(handler, client, QUEUE_SHUTDOWN)
    assert [e["message"] for _, _, e in client.puts for e in e] == ["kept\n"]


def test_items_queued_after_the_pill_are_left_and_the_loop_ends() -> None:
    client = FakeLogs()
    handler = _handler(_q("g", "s", "before\n", 1), QUEUE_SHUTDOWN, _q("g", "s", "after\n", 2))
    lambda_logs.run_log_loop(handler, client, QUEUE_SHUTDOWN)
    assert [e["message"] for _, _, events in client.puts for e in events] == ["before\n"]
    assert handler.log_queue.qsize() == 1


def test_the_hook_routes_localstack_log_items_through_the_batched_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from localstack.services.lambda_.invocation import logs

    monkeypatch.setattr(logs.LogHandler, "add_logs", logs.LogHandler.add_logs)
    monkeypatch.setattr(logs.LogHandler, "run_log_loop", logs.LogHandler.run_log_loop)
    monkeypatch.setattr("localstack.utils.bootstrap.is_api_enabled", lambda _api: True)
    client = FakeLogs()

    class Connect:
        def with_assumed_role(self, **_kwargs: Any) -> Any:
            return type("Clients", (), {"logs": client})()

    monkeypatch.setattr("localstack.aws.connect.connect_to", Connect())
    lambda_logs.batch_lambda_log_uploads()

    handler = LogHandler("arn:aws:iam::000000000000:role/r", "us-east-1")
    handler.add_logs(LogItem("/aws/lambda/f", "s", "hello\n"))
    handler.add_logs(LogItem("/aws/lambda/f", "s", "again\n"))
    assert isinstance(handler.log_queue, Queue)
    handler.log_queue.put(QUEUE_SHUTDOWN)
    thread = threading.Thread(target=handler.run_log_loop)
    thread.start()
    thread.join(timeout=10)

    assert not thread.is_alive()
    assert [(g, s, [e["message"] for e in ev]) for g, s, ev in client.puts] == [
        ("/aws/lambda/f", "s", ["hello\n", "again\n"])
    ]


def test_uploads_queued_while_a_round_lingers_join_its_call() -> None:
    client = FakeLogs()
    handler = _handler(_q("g", "s", "first\n", 1))

    def later() -> None:
        handler.log_queue.put(_q("g", "s", "second\n", 2))
        handler.log_queue.put(QUEUE_SHUTDOWN)

    timer = threading.Timer(0.05, later)
    timer.start()
    lambda_logs.run_log_loop(handler, client, QUEUE_SHUTDOWN, linger=5.0)
    timer.join()
    assert [[e["message"] for e in events] for _, _, events in client.puts] == [
        ["first\n", "second\n"]
    ]


def test_a_round_ends_after_its_linger_without_more_uploads() -> None:
    handler = _handler()
    first = _q("g", "s", "only\n", 1)
    taken, stop = lambda_logs.drain(first, handler.log_queue, QUEUE_SHUTDOWN, linger=0.05)
    assert (taken, stop) == ([first], False)


def _moto_backend() -> Any:
    import localstack.services.logs.provider  # noqa: F401 - its patch on LogStream.put_log_events
    from moto.logs.models import LogsBackend

    return LogsBackend("us-east-1", "000000000000")


def test_a_batch_for_an_existing_stream_goes_straight_into_the_backend() -> None:
    backend = _moto_backend()
    backend.create_log_group("/aws/lambda/f", tags={})
    backend.create_log_stream("/aws/lambda/f", "s")
    client = FakeLogs()
    events = [{"timestamp": int(time.time() * 1000), "message": "hello\n"}]

    lambda_logs.put_events(client, "/aws/lambda/f", "s", events, backend)

    assert client.puts == []  # no client round trip
    stored = backend.groups["/aws/lambda/f"].streams["s"].events
    assert [e.message for e in stored] == ["hello\n"]
    assert stored[0].ingestion_time > 0  # LocalStack's patch ran (it stamps ingestion)


def test_the_first_batch_and_metric_filters_take_the_client_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = _moto_backend()
    client = FakeLogs()
    events = [{"timestamp": 1, "message": "hello\n"}]
    # No group yet: the client creates group and stream (the provider adds tags there).
    lambda_logs.put_events(client, "/aws/lambda/f", "s", events, backend)
    assert [(g, s) for g, s, _ in client.puts] == [("/aws/lambda/f", "s")]

    backend.create_log_group("/aws/lambda/f", tags={})
    backend.create_log_stream("/aws/lambda/f", "s")
    backend.filters.metric_filters.append({"filterName": "errors", "filterPattern": "ERROR"})
    monkeypatch.setattr("localstack.utils.bootstrap.is_api_enabled", lambda api: True)
    lambda_logs.put_events(client, "/aws/lambda/f", "s", events, backend)
    assert len(client.puts) == 2  # the provider evaluates metric filters, so it gets the call
    monkeypatch.setattr("localstack.utils.bootstrap.is_api_enabled", lambda api: False)
    lambda_logs.put_events(client, "/aws/lambda/f", "s", events, backend)
    assert len(client.puts) == 2  # CloudWatch not served: nothing for the provider to add
