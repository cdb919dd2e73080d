"""The pytest plugin tested from outside, with pytester: inner sessions use the fixtures,
the outer test checks what they left behind on the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eda_sandbox.testing import AwsClients

INNER_CREATE = """
import json, pathlib

def test_create_everything(sqs_create_queue, sns_create_topic, events_create_rule,
                           lambda_create_function, events_listener):
    made = {{
        "queue": sqs_create_queue(),
        "fifo": sqs_create_queue("inner-{uid}.fifo"),
        "topic": sns_create_topic(),
        "rule": events_create_rule(pattern={{"source": ["inner.test"]}}),
        "function": lambda_create_function({{"app.py": "def handler(e, c): return 1"}})[
            "FunctionName"
        ],
    }}
    listener = events_listener("default", {{"source": ["inner.test"]}})
    made["listener_rule"] = listener.rule_name
    made["listener_queue"] = listener.queue_url
    pathlib.Path("made.json").write_text(json.dumps(made))
"""


def _run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_inner=source)
    return pytester.runpytest_inprocess("--sandbox=external", "-p", "no:cacheprovider", *args)


def test_factories_and_listener_delete_what_they_create(
    pytester: pytest.Pytester, aws: AwsClients, correlation_id: str
) -> None:
    uid = correlation_id[-12:]
    result = _run(pytester, INNER_CREATE.format(uid=uid))
    result.assert_outcomes(passed=1)
    made = json.loads(Path(pytester.path, "made.json").read_text())

    queues = aws.sqs.list_queues(QueueNamePrefix="").get("QueueUrls", [])
    for key in ("queue", "fifo", "listener_queue"):
        assert made[key] not in queues, f"{key} {made[key]} survived its test"
    topics = [t["TopicArn"] for t in aws.sns.list_topics()["Topics"]]
    assert made["topic"] not in topics
    rules = [r["Name"] for r in aws.events.list_rules(EventBusName="default")["Rules"]]
    assert made["rule"].split("/")[-1] not in rules
    assert made["listener_rule"] not in rules
    with pytest.raises(aws.lambda_.exceptions.ResourceNotFoundException):
        aws.lambda_.get_function(FunctionName=made["function"])


def test_wait_until_reports_the_last_value(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
def test_waits(wait_until):
    seen = iter(range(10_000))
    wait_until(lambda: next(seen) < 0 and "never", timeout=0.3, description="a negative number")
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*WaitTimeoutError*waiting for a negative number*"])
    result.stdout.fnmatch_lines(["*last value seen: False*"])


def test_receive_until_shows_what_it_saw(
    pytester: pytest.Pytester, aws: AwsClients, sqs_create_queue: object
) -> None:
    result = _run(
        pytester,
        """
def test_receive(sqs_create_queue, receive_until, aws):
    url = sqs_create_queue()
    aws.sqs.send_message(QueueUrl=url, MessageBody='{"correlation_id": "other-test"}')
    receive_until(url, match="mine", timeout=1.5)
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*0 of 1 matching messages*non-matching seen*other-test*"])


def test_fail_on_skip_fails_the_run(pytester: pytest.Pytester) -> None:
    source = "import pytest\n\ndef test_a(): pass\n\n@pytest.mark.skip\ndef test_b(): pass\n"
    result = _run(pytester, source, "--fail-on-skip")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*--fail-on-skip: 1 test(s) did not run*", "*skipped: *test_b*"])
    deselected = _run(pytester, source, "--fail-on-skip", "-k", "not test_b")
    assert deselected.ret == pytest.ExitCode.TESTS_FAILED
    deselected.stdout.fnmatch_lines(["*deselected: *test_b*"])


def test_no_sandbox_is_an_error_never_a_skip(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    result = _run(pytester, "def test_needs_it(aws):\n    pass\n")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--sandbox=external, but nothing answers at http://127.0.0.1:9*"])


INNER_IAM = """
import json, pathlib

def test_a_function_with_its_own_role(iam_enforced, lambda_create_function):
    fn = lambda_create_function(
        {"app.py": "def handler(e, c): return 1"},
        permissions=[{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}],
    )
    made = {"role": fn["Role"], "enforced": iam_enforced}
    pathlib.Path("made.json").write_text(json.dumps(made))
"""


def test_enforce_iam_refuses_a_sandbox_that_does_not_enforce(
    pytester: pytest.Pytester,
    aws: AwsClients,
    iam_enforced: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--enforce-iam on a sandbox that enforces runs the test, whose function's own role
    is deleted afterwards; on one that does not, the session fixture refuses it."""
    # The inner session sets the variable for the sandbox it would start; undone after.
    monkeypatch.setenv("EDA_SANDBOX_ENFORCE_IAM", "1" if iam_enforced else "0")
    result = _run(pytester, INNER_IAM, "--enforce-iam")
    if not iam_enforced:
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*--enforce-iam, but the sandbox at * does not enforce IAM*"])
        return
    result.assert_outcomes(passed=1)
    made = json.loads(Path(pytester.path, "made.json").read_text())
    assert made["enforced"] is True
    with pytest.raises(aws.iam.exceptions.NoSuchEntityException):
        aws.iam.get_role(RoleName=made["role"].rsplit("/", 1)[1])
