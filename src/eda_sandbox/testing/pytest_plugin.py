"""pytest plugin (entry point ``pytest11``): a sandbox, AWS clients and event-driven helpers.

Fixtures:
``sandbox`` (session) -- reuses a running sandbox, or starts the embedded one and stops it
at the end; ``--sandbox=auto|embedded|external|docker|aws`` chooses explicitly.
``aws`` -- boto3 clients bound to it (``aws.sqs``, ``aws.client("lambda")``).
``topology`` -- the applied topology's outputs (ARNs, URLs, names).
``iam_enforced`` -- whether functions' calls are checked against their roles
(``--enforce-iam`` starts the sandbox so; AWS always does).
``correlation_id`` -- unique per test, so shared queues are never purged.
``sqs_create_queue``, ``sns_create_topic``, ``events_create_rule``,
``lambda_create_function`` -- factories that delete what they create.
``events_listener`` -- capture what a bus routes (IATK's listener, offline).
``wait_until``, ``receive_until``, ``assert_in_dlq`` -- bounded waits that report what
they saw.
``dlq`` -- list, show, redrive (StartMessageMoveTask) and purge dead-letter queues.
``journey`` -- ``journey(correlation_id)``: the test's events as the sandbox recorded
them, hop by hop, with assertions (``testing/journey.py``). When a test that has a
``correlation_id`` fails, its journeys are appended to the failure report.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import uuid
import zipfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from eda_sandbox.config import load_settings
from eda_sandbox.dlq.operations import DeadLetterQueues
from eda_sandbox.errors import SandboxError, SandboxStartError
from eda_sandbox.journeys.client import JourneyClient
from eda_sandbox.testing import sandbox as sandbox_mod
from eda_sandbox.testing.aws import AwsClients
from eda_sandbox.testing.journey import JourneyView
from eda_sandbox.testing.listener import EventsListener
from eda_sandbox.testing.roles import TestRoles
from eda_sandbox.testing.sqs import ReceivedMessage
from eda_sandbox.testing.sqs import assert_in_dlq as _assert_in_dlq
from eda_sandbox.testing.sqs import receive_until as _receive_until
from eda_sandbox.testing.waits import wait_until as _wait_until

_OWNER = pytest.StashKey[bool]()
_NOT_RUN = pytest.StashKey["_NotRunTracker"]()
_JOURNEY_CLIENT = pytest.StashKey[JourneyClient]()
# How long a failure report waits for the journey endpoint before giving up on it.
_REPORT_TIMEOUT = 3.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("eda-sandbox")
    group.addoption(
        "--sandbox",
        default=os.environ.get("EDA_SANDBOX_MODE", "auto"),
        choices=sandbox_mod.MODES,
        help="auto: reuse a running sandbox or start the embedded one (default); "
        "embedded, external, docker (testcontainers) or aws (a real account)",
    )
    group.addoption(
        "--fail-on-skip",
        action="store_true",
        help="fail the run if any test is skipped or deselected (CI: every suite must run)",
    )
    group.addoption(
        "--enforce-iam",
        action="store_true",
        help="start the sandbox with EDA_SANDBOX_ENFORCE_IAM=1 (functions' calls checked "
        "against their roles); a running sandbox that does not enforce is refused",
    )
    group.addoption(
        "--topology",
        default="infra/topology.yaml",
        help="topology file the `topology` fixture applies (default: infra/topology.yaml)",
    )


class _NotRunTracker:
    """Skipped and deselected tests of one session (a pytester session has its own)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.lines.extend(f"deselected: {item.nodeid}" for item in items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped:
            self.lines.append(f"skipped: {report.nodeid}")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_OWNER] = sandbox_mod.claim_run()
    if config.option.enforce_iam:
        # Read by load_settings() when the sandbox starts; xdist workers inherit it.
        os.environ["EDA_SANDBOX_ENFORCE_IAM"] = "1"
    tracker = _NotRunTracker()
    config.stash[_NOT_RUN] = tracker
    config.pluginmanager.register(tracker)


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_OWNER, False):
        os.environ.pop(sandbox_mod.RUN_ID_VARIABLE, None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput"):
        return  # only the controller judges the run and stops what it started
    if config.option.sandbox != "aws" and config.stash.get(_OWNER, False):
        sandbox_mod.release_all(load_settings())
    not_run = config.stash[_NOT_RUN].lines
    if config.option.fail_on_skip and not_run:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"--fail-on-skip: {len(not_run)} test(s) did not run:", red=True)
            for line in not_run:
                reporter.write_line(f"  {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def sandbox(pytestconfig: pytest.Config) -> sandbox_mod.Sandbox:
    """A ready sandbox for the whole session; fails loudly if none can be had."""
    found = sandbox_mod.acquire(pytestconfig.option.sandbox, load_settings())
    if pytestconfig.option.enforce_iam and not sandbox_mod.enforces_iam(found):
        raise SandboxStartError(
            f"--enforce-iam, but the sandbox at {found.endpoint_url} does not enforce IAM: "
            "stop it (make down) or start it with EDA_SANDBOX_ENFORCE_IAM=1"
        )
    return found


@pytest.fixture(scope="session")
def iam_enforced(sandbox: sandbox_mod.Sandbox) -> bool:
    """Whether the sandbox refuses what a function's role does not allow (AWS does)."""
    return sandbox_mod.enforces_iam(sandbox)


@pytest.fixture(scope="session")
def aws(sandbox: sandbox_mod.Sandbox) -> AwsClients:
    if sandbox.endpoint_url:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    return AwsClients(sandbox.endpoint_url, sandbox.region)


@pytest.fixture(scope="session")
def topology(sandbox: sandbox_mod.Sandbox, pytestconfig: pytest.Config) -> dict[str, Any]:
    """Outputs of the applied topology (applied once per session; idempotent)."""
    path = Path(pytestconfig.option.topology)
    if not path.is_absolute():
        path = Path(pytestconfig.rootpath) / path
    return sandbox_mod.apply_topology(sandbox, path)


@pytest.fixture
def correlation_id(request: pytest.FixtureRequest) -> str:
    name = request.node.name.split("[")[0][-24:]
    return f"{name}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def journey(
    sandbox: sandbox_mod.Sandbox, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], JourneyView]]:
    """``journey(id)``: the journeys of a correlation, message, request or trace id.

    After the test, the journeys it asked for are written as OTLP JSON to
    ``<state dir>/journeys/<test>.json`` (and sent to ``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
    if sandbox.endpoint_url is None:
        pytest.skip("journeys are recorded by the sandbox; a real AWS account has none")
    client = JourneyClient(sandbox.endpoint_url)
    request.node.stash[_JOURNEY_CLIENT] = client
    asked: list[str] = []

    def view(key: str) -> JourneyView:
        asked.append(key)
        return JourneyView(client, key)

    yield view
    if asked:
        _write_otlp(client, asked, sandbox.settings.journeys_dir, request.node.nodeid)


def _write_otlp(client: JourneyClient, keys: list[str], folder: Path, nodeid: str) -> None:
    from eda_sandbox.journeys import otel

    journeys = {j.id: j for key in dict.fromkeys(keys) for j in client.find(key)}
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[-150:]
    otel.write_otlp_json(list(journeys.values()), folder / f"{name}.json")
    otel.export(list(journeys.values()))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        _append_journey(item, report)
    return report


def _append_journey(item: pytest.Item, report: pytest.TestReport) -> None:
    """The journeys of the failed test's correlation id, as a report section."""
    funcargs = getattr(item, "funcargs", {})
    cid = funcargs.get("correlation_id")
    sandbox = funcargs.get("sandbox") or funcargs.get("aws")
    if not isinstance(cid, str) or sandbox is None:
        return
    client = item.stash.get(_JOURNEY_CLIENT, None)
    if client is None:
        url = getattr(sandbox, "endpoint_url", None)
        if not url:
            return
        client = JourneyClient(url, timeout=_REPORT_TIMEOUT)
    try:
        text = JourneyView(client, cid).text()
    except SandboxError as e:
        text = f"(could not read the journey: {e})"
    report.sections.append((f"journey of {cid}", text))


@pytest.fixture
def dlq(aws: AwsClients) -> DeadLetterQueues:
    """Dead-letter queues: ``list_queues()``, ``show(q)``, ``redrive(q, to=...)``, ``purge(q)``."""
    return DeadLetterQueues(aws.sqs)


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    return _wait_until


@pytest.fixture
def receive_until(aws: AwsClients) -> Callable[..., list[ReceivedMessage]]:
    def receive(queue_url: str, **kwargs: Any) -> list[ReceivedMessage]:
        return _receive_until(aws.sqs, queue_url, **kwargs)

    return receive


@pytest.fixture
def assert_in_dlq(aws: AwsClients) -> Callable[..., ReceivedMessage]:
    def check(queue_url: str, correlation_id: str, timeout: float = 30.0) -> ReceivedMessage:
        return _assert_in_dlq(aws.sqs, queue_url, correlation_id, timeout=timeout)

    return check


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sqs_create_queue(aws: AwsClients) -> Iterator[Callable[..., str]]:
    created: list[str] = []

    def create(name: str | None = None, **kwargs: Any) -> str:
        name = name or _unique("test-queue")
        attrs = dict(kwargs.pop("Attributes", {}))
        if name.endswith(".fifo"):
            attrs.setdefault("FifoQueue", "true")
        url: str = aws.sqs.create_queue(QueueName=name, Attributes=attrs, **kwargs)["QueueUrl"]
        created.append(url)
        return url

    yield create
    for url in reversed(created):
        with contextlib.suppress(aws.sqs.exceptions.QueueDoesNotExist):
            aws.sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def sns_create_topic(aws: AwsClients) -> Iterator[Callable[..., str]]:
    created: list[str] = []

    def create(name: str | None = None, **kwargs: Any) -> str:
        arn: str = aws.sns.create_topic(Name=name or _unique("test-topic"), **kwargs)["TopicArn"]
        created.append(arn)
        return arn

    yield create
    for arn in reversed(created):
        for sub in aws.sns.list_subscriptions_by_topic(TopicArn=arn).get("Subscriptions", []):
            if sub["SubscriptionArn"].startswith("arn:"):
                aws.sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
        aws.sns.delete_topic(TopicArn=arn)


@pytest.fixture
def events_create_rule(aws: AwsClients) -> Iterator[Callable[..., str]]:
    created: list[tuple[str, str]] = []

    def create(
        name: str | None = None, *, bus: str = "default", pattern: dict[str, Any], **kwargs: Any
    ) -> str:
        import json

        name = name or _unique("test-rule")
        arn: str = aws.events.put_rule(
            Name=name, EventBusName=bus, EventPattern=json.dumps(pattern), **kwargs
        )["RuleArn"]
        created.append((name, bus))
        return arn

    yield create
    for name, bus in reversed(created):
        targets = aws.events.list_targets_by_rule(Rule=name, EventBusName=bus).get("Targets", [])
        if targets:
            aws.events.remove_targets(Rule=name, EventBusName=bus, Ids=[t["Id"] for t in targets])
        aws.events.delete_rule(Name=name, EventBusName=bus)


def zip_directory(path: Path) -> bytes:
    """A deployment package of ``path`` (for ad-hoc test functions)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(path.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                zf.write(file, file.relative_to(path).as_posix())
    return buf.getvalue()


@pytest.fixture
def lambda_create_function(aws: AwsClients) -> Iterator[Callable[..., dict[str, Any]]]:
    """Create a function from a folder, a dict of {filename: source} or zip bytes, wait
    until it is Active (or Failed), and delete it afterwards. ``permissions`` (IAM policy
    statements) gives it a role of its own that allows them, deleted with it
    (``enforce_iam=True``: checked even when the sandbox does not enforce IAM for all);
    without, its role allows nothing, which matters when the sandbox enforces IAM."""
    created: list[str] = []
    roles = TestRoles(aws.iam)

    def create(
        code: Path | dict[str, str] | bytes,
        *,
        name: str | None = None,
        runtime: str = "python3.12",
        handler: str = "app.handler",
        timeout: int = 10,
        wait: bool = True,
        permissions: list[dict[str, Any]] | None = None,
        enforce_iam: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        if isinstance(code, dict):
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zf:
                for filename, source in code.items():
                    zf.writestr(filename, source)
            blob = buf.getvalue()
        elif isinstance(code, Path):
            blob = zip_directory(code)
        else:
            blob = code
        name = name or _unique("test-fn")
        if permissions is not None:
            # Its own role: what the function may call when IAM is enforced.
            role = roles.create(f"{name}-role", permissions, enforce=enforce_iam)
            kwargs.setdefault("Role", role)
        kwargs.setdefault("Role", "arn:aws:iam::000000000000:role/test-lambda")
        config: dict[str, Any] = aws.lambda_.create_function(
            FunctionName=name,
            Runtime=runtime,
            Handler=handler,
            Timeout=timeout,
            Code={"ZipFile": blob},
            **kwargs,
        )
        created.append(name)
        if wait:

            def settled() -> dict[str, Any] | None:
                cfg: dict[str, Any] = aws.lambda_.get_function_configuration(FunctionName=name)
                return cfg if cfg["State"] in ("Active", "Failed") else None

            config = _wait_until(settled, timeout=30, description=f"{name} to leave Pending")
        return config

    yield create
    for name in reversed(created):
        with contextlib.suppress(aws.lambda_.exceptions.ResourceNotFoundException):
            aws.lambda_.delete_function(FunctionName=name)
    roles.delete_all()


@pytest.fixture
def events_listener(aws: AwsClients) -> Iterator[Callable[..., EventsListener]]:
    listeners: list[EventsListener] = []

    def create(bus: str, pattern: dict[str, Any]) -> EventsListener:
        listener = EventsListener(aws.events, aws.sqs, bus, pattern)
        listeners.append(listener)
        return listener

    yield create
    for listener in reversed(listeners):
        listener.close()
