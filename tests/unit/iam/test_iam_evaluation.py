"""The policy evaluator: AWS's order (explicit deny, allow, implicit deny), wildcards,
ARN matching and conditions; and the cases where moto's evaluator differs from IAM, which
are why it is not reused (``eda_sandbox/iam/evaluation.py``)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from eda_sandbox.iam.evaluation import Decision, decide

QUEUE = "arn:aws:sqs:us-east-1:000000000000:Jobs"
TABLE = "arn:aws:dynamodb:us-east-1:000000000000:table/Orders"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def _decide(*statements: dict[str, Any], action: str, resource: str, **kw: Any) -> Decision:
    return decide([_policy(*statements)], action=action, resource=resource, **kw)


def test_nothing_allows_means_implicit_deny() -> None:
    assert decide([], action="sqs:SendMessage", resource=QUEUE) is Decision.IMPLICIT_DENY
    assert (
        _decide(allow("sqs:ReceiveMessage", QUEUE), action="sqs:SendMessage", resource=QUEUE)
        is Decision.IMPLICIT_DENY
    )


def test_an_allow_that_matches_allows() -> None:
    assert _decide(allow("sqs:SendMessage", QUEUE), action="sqs:SendMessage", resource=QUEUE) is (
        Decision.ALLOW
    )


def test_an_explicit_deny_wins_over_any_allow_in_any_policy() -> None:
    policies = [
        _policy(allow("sqs:*", "*")),
        _policy(deny("sqs:SendMessage", QUEUE)),
        _policy(allow("sqs:SendMessage", QUEUE)),
    ]
    assert decide(policies, action="sqs:SendMessage", resource=QUEUE) is Decision.EXPLICIT_DENY
    # A deny on another resource does not apply.
    other = "arn:aws:sqs:us-east-1:000000000000:Other"
    assert decide(policies, action="sqs:SendMessage", resource=other) is Decision.ALLOW


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("sqs:*", "sqs:SendMessage", Decision.ALLOW),
        ("sqs:Send*", "sqs:SendMessage", Decision.ALLOW),
        ("SQS:sendmessage", "sqs:SendMessage", Decision.ALLOW),  # actions ignore case
        ("sqs:?endMessage", "sqs:SendMessage", Decision.ALLOW),
        ("sqs:?Message", "sqs:SendMessage", Decision.IMPLICIT_DENY),  # ? is one character
        ("sns:*", "sqs:SendMessage", Decision.IMPLICIT_DENY),
        ("*", "dynamodb:PutItem", Decision.ALLOW),
    ],
)
def test_action_wildcards(pattern: str, action: str, expected: Decision) -> None:
    assert _decide(allow(pattern, "*"), action=action, resource=QUEUE) is expected


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        (TABLE, TABLE, Decision.ALLOW),
        (TABLE, f"{TABLE}/index/ByCustomer", Decision.IMPLICIT_DENY),  # an index is its own ARN
        (f"{TABLE}/index/*", f"{TABLE}/index/ByCustomer", Decision.ALLOW),
        (f"{TABLE}*", f"{TABLE}/index/ByCustomer", Decision.ALLOW),  # * spans / and :
        ("arn:aws:dynamodb:*:*:table/Orders", TABLE, Decision.ALLOW),
        ("arn:aws:dynamodb:us-east-1:000000000000:table/orders", TABLE, Decision.IMPLICIT_DENY),
        ("arn:aws:dynamodb:us-east-1:000000000000:table/Order?", TABLE, Decision.ALLOW),
        # A dot is a dot, not a regular expression's any character.
        ("arn:aws:sqs:us-east-1:000000000000:Jobs.fifo", f"{QUEUE}xfifo", Decision.IMPLICIT_DENY),
        (
            "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/fn:*",
            "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/fn:log-stream:s1",
            Decision.ALLOW,
        ),
    ],
)
def test_resource_arn_matching(pattern: str, resource: str, expected: Decision) -> None:
    assert _decide(allow("*", pattern), action="dynamodb:GetItem", resource=resource) is expected


def test_not_action_and_not_resource() -> None:
    everything_but_delete = allow(None, TABLE)
    del everything_but_delete["Action"]
    everything_but_delete["NotAction"] = "dynamodb:Delete*"
    assert _decide(everything_but_delete, action="dynamodb:PutItem", resource=TABLE) is (
        Decision.ALLOW
    )
    assert _decide(everything_but_delete, action="dynamodb:DeleteItem", resource=TABLE) is (
        Decision.IMPLICIT_DENY
    )
    deny_outside = {"Effect": "Deny", "Action": "*", "NotResource": TABLE}
    assert _decide(allow("*", "*"), deny_outside, action="sqs:SendMessage", resource=QUEUE) is (
        Decision.EXPLICIT_DENY
    )
    assert _decide(allow("*", "*"), deny_outside, action="dynamodb:GetItem", resource=TABLE) is (
        Decision.ALLOW
    )


def test_conditions() -> None:
    pinned = allow(
        "sqs:SendMessage",
        QUEUE,
        Condition={"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:000000000000:T"}},
    )
    topic = {"aws:SourceArn": "arn:aws:sns:us-east-1:000000000000:T"}
    other = {"aws:SourceArn": "arn:aws:sns:us-east-1:000000000000:Other"}
    assert _decide(pinned, action="sqs:SendMessage", resource=QUEUE, context=topic) is (
        Decision.ALLOW
    )
    # A condition that does not hold makes the Allow not apply: an implicit deny.
    assert _decide(pinned, action="sqs:SendMessage", resource=QUEUE, context=other) is (
        Decision.IMPLICIT_DENY
    )
    assert _decide(pinned, action="sqs:SendMessage", resource=QUEUE) is Decision.IMPLICIT_DENY
    unknown = deny("sqs:*", "*", Condition={"DateGreaterThan": {"aws:CurrentTime": "2020"}})
    # An operator the evaluator does not know fails closed: the Deny applies.
    assert _decide(allow("*", "*"), unknown, action="sqs:SendMessage", resource=QUEUE) is (
        Decision.EXPLICIT_DENY
    )


def test_documents_as_json_and_url_encoded_as_iam_stores_them() -> None:
    document = json.dumps(_policy(allow("sqs:SendMessage", QUEUE)))
    for policy in (document, quote(document), document.encode()):
        assert decide([policy], action="sqs:SendMessage", resource=QUEUE) is Decision.ALLOW
    single = json.dumps({"Statement": allow("sqs:SendMessage", QUEUE)})  # not a list
    assert decide([single], action="sqs:SendMessage", resource=QUEUE) is Decision.ALLOW


# moto's IAMPolicy, checked for reuse: each case below is IAM's answer, and moto's differs.
def _moto(statement: dict[str, Any], action: str, resource: str, context: Any = None) -> str:
    from moto.iam.access_control import IAMPolicy

    result = IAMPolicy(json.dumps(_policy(statement))).is_action_permitted(
        action, resource, incoming_condition_values=context
    )
    return str(result.name)


def test_moto_differs_from_iam_where_this_evaluator_agrees_with_iam() -> None:
    # Actions ignore case in IAM.
    assert _moto(allow("sqs:sendmessage", QUEUE), "sqs:SendMessage", QUEUE) == "NEUTRAL"
    # An Allow whose condition does not hold does not apply; moto makes it an explicit deny.
    pinned = allow("sqs:SendMessage", QUEUE, Condition={"StringEquals": {"aws:SourceArn": "x"}})
    assert _moto(pinned, "sqs:SendMessage", QUEUE, {"aws:SourceArn": "y"}) == "DENIED"
    # A Deny with NotResource on another resource applies; moto permits.
    deny_outside = {"Effect": "Deny", "Action": "*", "NotResource": TABLE}
    assert _moto(deny_outside, "sqs:SendMessage", QUEUE) == "PERMITTED"
    for statement, action, resource, context, iam in [
        (allow("sqs:sendmessage", QUEUE), "sqs:SendMessage", QUEUE, None, Decision.ALLOW),
        (pinned, "sqs:SendMessage", QUEUE, {"aws:SourceArn": "y"}, Decision.IMPLICIT_DENY),
        (deny_outside, "sqs:SendMessage", QUEUE, None, Decision.EXPLICIT_DENY),
    ]:
        assert _decide(statement, action=action, resource=resource, context=context) is iam
