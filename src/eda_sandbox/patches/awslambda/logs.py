"""Lambda log shipping in batches (applied as Lambda loads,
``patches/loading.py``).

LocalStack's ``LogHandler`` (one thread per function version) uploads each invocation's
output with its own ``PutLogEvents`` call through an internal boto client. That call
cost 1.7 ms of LocalStack's CPU per invocation, 35 % of a warm invoke (py-spy under an
invoke loop, bench/RESULTS.md), on the one GIL-bound process every event goes through.
This loop takes the first queued upload, waits ``LINGER_SECONDS`` for more, and sends
everything for one log stream in one call, within CloudWatch Logs' limits. Under load
that is one call for many invocations; logs reach CloudWatch at most 0.1 s later than
before (AWS itself takes seconds), and a test that reads them waits for them anyway.

A batch for a stream that already exists goes straight into moto's CloudWatch Logs
backend, where LocalStack's ``PutLogEvents`` ends up (``LogsProvider.put_log_events`` ->
``call_moto``), without the round trip through a botocore client, the request parser,
moto's response layer and the JSON on both sides: that trip cost about 1 ms of CPU a
call, and under load the batches are small (each environment has its own stream, and a
stream gets about one invocation per linger), so a pipeline burst paid it about once per
invocation (a yappi profile: 288 calls for 300 EventBridge events). The backend call is
the same one the provider makes, with moto's own checks (chronological order, the 14-day
and 2-hour window) and LocalStack's patch on ``LogStream.put_log_events`` (subscription
filters, ingestion time). The client path is kept for what the provider adds itself:
creating the group and stream on first use, and metric filters when CloudWatch is served.
Internal calls were never checked against the function's role (``patches/iam``), so
enforcement sees no difference.

Kept from LocalStack: the stream is created on first use (``ResourceNotFoundException``
creates the group and the stream, then retries), empty lines are dropped, and a failed
upload is logged and not retried. Changed: each line is stamped with the time its
invocation's logs were queued, not the time they were uploaded, so batching does not
move log times, and times never go backwards within a stream.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator
from queue import Empty
from typing import Any

from eda_sandbox.patches import switch

LOG = logging.getLogger(__name__)

# CloudWatch Logs PutLogEvents limits: 10,000 events and 1,048,576 bytes, counting each
# event's UTF-8 message plus 26 bytes.
MAX_EVENTS = 10_000
MAX_BYTES = 1_048_576
EVENT_OVERHEAD = 26
# Items taken from the queue per round, so a flood cannot hold a batch open for long.
MAX_ITEMS_PER_ROUND = 500
# How long a round waits for more uploads after its first one.
LINGER_SECONDS = 0.1


@dataclasses.dataclass(frozen=True)
class _Queued:
    item: Any  # LocalStack's LogItem: log_group, log_stream, logs
    queued_ms: int


def events_of(queued: list[_Queued]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Log events per (group, stream), in queue order; times never go backwards."""
    streams: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in queued:
        key = (entry.item.log_group, entry.item.log_stream)
        events = streams.setdefault(key, [])
        stamp = max(entry.queued_ms, events[-1]["timestamp"] if events else 0)
        # Split on newlines but keep them, and drop empty lines (CloudWatch refuses them).
        events.extend(
            {"timestamp": stamp, "message": line + "\n"}
            for line in entry.item.logs.split("\n")
            if line
        )
    return streams


def chunks(events: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Split one stream's events into PutLogEvents-sized calls."""
    chunk: list[dict[str, Any]] = []
    size = 0
    for event in events:
        event_size = len(event["message"].encode()) + EVENT_OVERHEAD
        if chunk and (len(chunk) == MAX_EVENTS or size + event_size > MAX_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(event)
        size += event_size
    if chunk:
        yield chunk


def put_events(
    client: Any, group: str, stream: str, events: list[dict[str, Any]], backend: Any = None
) -> None:
    """One stream's events, creating the group and stream on first use; straight into
    ``backend`` (moto's, or None) where the provider would add nothing."""
    for chunk in chunks(events):
        if backend is not None and put_direct(backend, group, stream, chunk):
            continue
        try:
            client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=chunk)
        except client.exceptions.ResourceNotFoundException:
            with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                client.create_log_group(logGroupName=group)
            client.create_log_stream(logGroupName=group, logStreamName=stream)
            client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=chunk)


def put_direct(backend: Any, group: str, stream: str, events: list[dict[str, Any]]) -> bool:
    """``PutLogEvents`` as the provider's ``call_moto`` runs it, for a stream that exists
    and a group with no metric filters to evaluate; False leaves it to the client."""
    from localstack.utils.bootstrap import is_api_enabled

    log_group = backend.groups.get(group)
    if log_group is None or stream not in log_group.streams:
        return False
    if backend.filters.metric_filters and is_api_enabled("cloudwatch"):
        return False
    backend.put_log_events(group, stream, events)
    return True


def drain(
    first: _Queued, queue: Any, shutdown: object, linger: float = LINGER_SECONDS
) -> tuple[list[_Queued], bool]:
    """``first`` plus what is queued within ``linger`` seconds; True when the shutdown
    pill came, which ends the round at once."""
    taken = [first]
    deadline = time.monotonic() + linger
    while len(taken) < MAX_ITEMS_PER_ROUND:
        remaining = deadline - time.monotonic()
        try:
            entry = queue.get(timeout=remaining) if remaining > 0 else queue.get_nowait()
        except Empty:
            break
        if entry is shutdown:
            return taken, True
        taken.append(entry)
    return taken, False


def run_log_loop(
    handler: Any,
    logs_client: Any,
    shutdown: object,
    linger: float = LINGER_SECONDS,
    backend: Any = None,
) -> None:
    """The loop a ``LogHandler`` thread runs until its shutdown event or pill."""
    while not handler._shutdown_event.is_set():
        first = handler.log_queue.get()
        if first is shutdown:
            return
        taken, stop = drain(first, handler.log_queue, shutdown, linger)
        for (group, stream), events in events_of(taken).items():
            try:
                put_events(logs_client, group, stream, events, backend)
            except Exception as e:  # noqa: BLE001 - as LocalStack: log it, keep shipping
                LOG.warning(
                    "Error saving logs to group %s in region %s: %s", group, handler.region, e
                )
        if stop:
            return


def batch_lambda_log_uploads(*_args: Any) -> None:
    if not switch.enabled():
        return
    from localstack.aws.connect import connect_to
    from localstack.services.lambda_.invocation import logs
    from localstack.services.logs.models import get_moto_logs_backend
    from localstack.utils.aws.arns import extract_account_id_from_arn
    from localstack.utils.aws.client_types import ServicePrincipal
    from localstack.utils.bootstrap import is_api_enabled

    def add_logs(self: Any, log_item: Any) -> None:
        if is_api_enabled("logs"):
            self.log_queue.put(_Queued(log_item, int(time.time() * 1000)))

    def loop(self: Any, *args: Any, **kwargs: Any) -> None:
        client = connect_to.with_assumed_role(
            region_name=self.region,
            role_arn=self.role_arn,
            # A plain class of str constants, typed as the class itself upstream.
            service_principal=ServicePrincipal.lambda_,  # type: ignore[arg-type]
        ).logs
        # The account the role's credentials stand for, as the client's calls would use.
        account = extract_account_id_from_arn(self.role_arn)
        backend = get_moto_logs_backend(account, self.region) if account else None
        run_log_loop(self, client, logs.QUEUE_SHUTDOWN, backend=backend)

    logs.LogHandler.add_logs = add_logs  # type: ignore[method-assign]
    logs.LogHandler.run_log_loop = loop  # type: ignore[method-assign]
