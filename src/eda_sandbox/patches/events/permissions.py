"""Whether a target's resource-based policy lets EventBridge deliver to it.

On AWS, EventBridge delivers to a Lambda function, an SQS queue or an SNS topic of a rule
only when that resource's policy allows ``events.amazonaws.com`` the call
(``lambda:InvokeFunction``, ``sqs:SendMessage``, ``sns:Publish``), usually scoped to the
rule with ``aws:SourceArn``; the same holds for the target's dead-letter queue. LocalStack
checks none of it. The policies are read from LocalStack's own stores (a dictionary look-up
per delivery, no API call) and evaluated by ``policy.allows``.

Not checked: a resource that does not exist (the delivery itself reports it, as
``NO_RESOURCE``), targets of other services, and targets with a ``RoleArn`` (EventBridge
then calls with that role's identity policies, which the sandbox does not enforce).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eda_sandbox.patches.events.policy import allows

EVENTS_PRINCIPAL = "events.amazonaws.com"
# Marks a target that does not exist: its delivery fails on its own, with AWS's error.
_MISSING = object()
ACTIONS = {"lambda": "lambda:InvokeFunction", "sqs": "sqs:SendMessage", "sns": "sns:Publish"}


def _lambda_policy(arn: str) -> Any:
    from localstack.services.lambda_.invocation.models import lambda_stores

    parts = arn.split(":")
    _, _, _, region, account, _, name, *qualifier = parts
    function = lambda_stores[account][region].functions.get(name)
    if function is None:
        return _MISSING
    qualifier_name = qualifier[0] if qualifier else "$LATEST"
    if (
        qualifier
        and qualifier_name not in function.versions
        and qualifier_name not in (function.aliases)
    ):
        return _MISSING
    permission = function.permissions.get(qualifier_name)
    return {"Statement": permission.policy.Statement} if permission else None


def _sqs_policy(arn: str) -> Any:
    from localstack.aws.api.sqs import QueueAttributeName
    from localstack.services.sqs.models import sqs_stores

    _, _, _, region, account, name = arn.split(":", 5)
    queue = sqs_stores[account][region].queues.get(name)
    return _MISSING if queue is None else queue.attributes.get(QueueAttributeName.Policy)


def _sns_policy(arn: str) -> Any:
    from localstack.services.sns.models import sns_stores

    _, _, _, region, account, _ = arn.split(":", 5)
    topic = sns_stores[account][region].topics.get(arn)
    return _MISSING if topic is None else topic["attributes"].get("Policy")


_POLICIES: dict[str, Callable[[str], Any]] = {
    "lambda": _lambda_policy,
    "sqs": _sqs_policy,
    "sns": _sns_policy,
}


def denial(arn: str, rule_arn: str, principal: str = EVENTS_PRINCIPAL) -> str | None:
    """AWS's access-denied message when EventBridge (or another service ``principal``) may
    not deliver to ``arn`` for the rule (the source) ``rule_arn``; None when it may, or
    when this module does not decide."""
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    read = _POLICIES.get(service)
    if read is None:
        return None
    policy = read(arn)
    if policy is _MISSING:
        return None
    action = ACTIONS[service]
    context = {"aws:SourceArn": rule_arn, "aws:SourceAccount": rule_arn.split(":")[4]}
    if allows(policy, service=principal, action=action, resource=arn, context=context):
        return None
    return (
        f"User: {principal} is not authorized to perform: {action} on resource: {arn} "
        f"because no resource-based policy allows the {action} action for {rule_arn}"
    )


def target_denial(target: dict[str, Any], rule_arn: str) -> str | None:
    """``denial`` for a rule's target; targets with a ``RoleArn`` are not checked."""
    if target.get("RoleArn"):
        return None
    return denial(str(target["Arn"]), rule_arn)
