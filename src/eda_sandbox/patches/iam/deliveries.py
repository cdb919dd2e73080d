"""SNS's deliveries checked against the resource policies of what they deliver to.

Upstream behaviour changed: LocalStack's SNS delivers to any subscribed queue or function.
On AWS, SNS may send to a queue only when the queue's policy allows ``sns.amazonaws.com``
``sqs:SendMessage`` (the topology pins it with ``aws:SourceArn``), and invoke a function
only when the function's policy (its ``lambda:AddPermission`` statements) allows it; the
same holds for a subscription's dead-letter queue. With ``EDA_SANDBOX_ENFORCE_IAM=1``,
the SQS provider's ``SendMessage``/``SendMessageBatch`` and the Lambda provider's
``Invoke`` refuse a call that SNS makes on a topic's behalf when the target's policy does
not allow it; SNS then treats it as the failed delivery it is (the subscription's
dead-letter queue gets the message, as on AWS).

The providers are wrapped, not the request chain: SNS's calls to SQS and Lambda are
handed to the providers directly (``patches/internal_calls/direct.py``), so no chain
handler sees them. EventBridge's deliveries are checked by ``patches/events`` (always).
Event source mappings and Lambda's on-failure destinations act with the function's role
on AWS, an identity this sandbox does not check for LocalStack's own calls.
"""

from __future__ import annotations

import logging
from typing import Any

import wrapt
from localstack.runtime import hooks

from eda_sandbox.config import load_settings
from eda_sandbox.patches.events.permissions import denial
from eda_sandbox.patches.iam import resources

LOG = logging.getLogger(__name__)
SNS_PRINCIPAL = "sns.amazonaws.com"
# (module, attribute) of each provider operation SNS delivers through.
TARGETS = (
    ("localstack.services.sqs.provider", "SqsProvider.send_message"),
    ("localstack.services.sqs.provider", "SqsProvider.send_message_batch"),
    ("localstack.services.lambda_.provider", "LambdaProvider.invoke"),
)


def _topic_of(source: str) -> str:
    """A subscription's ARN (SNS's source for its dead-letter sends) names its topic."""
    parts = source.split(":")
    return ":".join(parts[:6]) if len(parts) == 7 else source


def delivery_denial(context: Any) -> str | None:
    """Why the target's policy refuses this delivery by SNS; None when it does not, or
    when the call is no SNS delivery."""
    params = getattr(context, "internal_request_params", None) or {}
    if params.get("service_principal") != "sns" or not params.get("source_arn"):
        return None
    service = context.service.service_name if context.service is not None else ""
    operation = context.operation.name if context.operation is not None else ""
    needed = resources.target(
        service, operation, context.service_request or {}, context.account_id, context.region
    )
    if needed is None:
        return None
    source = _topic_of(str(params["source_arn"]))
    for arn in needed.resources:
        message = denial(arn, source, principal=SNS_PRINCIPAL)
        if message is not None:
            return message
    return None


def _patched_delivery(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
    context = args[0] if args else kwargs.get("context")
    message = delivery_denial(context) if context is not None else None
    if message is not None:
        from eda_sandbox.patches.iam.enforce import AccessDenied

        LOG.warning("IAM enforcement: %s", message)
        raise AccessDenied(context.service.service_name, message)
    return wrapped(*args, **kwargs)


# Before any service loads (they load once the gateway serves): a provider's dispatch table binds
# its methods when the service loads, so wrapping one after that would not be seen.
@hooks.on_infra_start(priority=10)
def check_sns_deliveries(*_args: Any) -> None:
    if not load_settings().enforce_iam:
        return
    for module, name in TARGETS:
        wrapt.wrap_function_wrapper(module, name, _patched_delivery)
