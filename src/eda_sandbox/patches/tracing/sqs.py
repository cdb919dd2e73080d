"""Journey hops of SQS: enqueue, every receive, expired visibility, delete, dead letter.

Wraps (LocalStack 2026.3.0):

- ``SqsProvider._put_message``: every SendMessage and SendMessageBatch entry, with the
  message id SQS assigned and its ``AWSTraceHeader`` system attribute;
- ``SqsProvider.send_message_batch``: which entry of a batch ``_put_message`` is sending
  (upstream calls it once per entry, in order, failed ones too). The entries share one
  trace header but are journeys of their own; the first may continue the journey the
  header names. An entry SNS delivers in a batch is linked to its SNS message;
- ``SqsProvider.receive_message``: who receives (the ``source_arn`` LocalStack's
  internal clients carry: an event source mapping's function), for the model below;
- ``StandardQueue.receive`` / ``FifoQueue.receive``: each message handed out, with its
  receive count, and each one moved to the DLQ because it passed ``maxReceiveCount``
  (upstream moves it on the receive after the last one, as AWS does);
- ``SqsQueue.remove`` (``FifoQueue.remove`` calls it): a delete that took the message away;
- ``SqsQueue.requeue_inflight_messages`` / ``FifoQueue.requeue_inflight_messages``: an
  in-flight message whose visibility timeout ran out, back in the queue.

The model-level hooks record only messages a journey already knows, which also leaves
out Lambda's internal event queues (the same model, never sent through the provider).
"""

from __future__ import annotations

from typing import Any

from eda_sandbox.journeys.model import HopKind
from eda_sandbox.patches.tracing.base import (
    Instrumentor,
    arg,
    attribute_value,
    body_correlation_id,
    enabled,
    set_thread_value,
    short_name,
    thread_set,
    thread_value,
)

_PROVIDER = "localstack.services.sqs.provider"
_MODELS = "localstack.services.sqs.models"


def _message_id(message: Any) -> str:
    return str(message.message["MessageId"])


class SqsInstrumentor(Instrumentor):
    TARGETS = (
        (_PROVIDER, "SqsProvider._put_message", "_patched_put_message"),
        (_PROVIDER, "SqsProvider.send_message_batch", "_patched_send_message_batch"),
        (_PROVIDER, "SqsProvider.receive_message", "_patched_receive_message"),
        (_MODELS, "StandardQueue.receive", "_patched_queue_receive"),
        (_MODELS, "FifoQueue.receive", "_patched_queue_receive"),
        (_MODELS, "SqsQueue.remove", "_patched_remove"),
        (_MODELS, "SqsQueue.requeue_inflight_messages", "_patched_requeue_inflight_messages"),
        (_MODELS, "FifoQueue.requeue_inflight_messages", "_patched_requeue_inflight_messages"),
    )

    def _patched_send_message_batch(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        # -1: _put_message advances it before sending each entry.
        with thread_set("sqs_batch_index", -1):
            return wrapped(*args, **kwargs)

    def _patched_put_message(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        # Before the call: an entry that fails still took its place in the batch.
        index = thread_value("sqs_batch_index")
        if index is not None:
            index += 1
            set_thread_value("sqs_batch_index", index)
        result = wrapped(*args, **kwargs)
        if not enabled() or thread_value("dead_letter_send"):
            return result  # a DLQ or on-failure send is recorded as that hop already
        queue = arg(args, kwargs, 0, "queue")
        context = arg(args, kwargs, 1, "context")
        message = result.message
        attributes = message.get("MessageAttributes") or {}
        params = getattr(context, "internal_request_params", None) or {}
        message_id = message["MessageId"]
        keys: tuple[str, ...] = (message_id,)
        if index is not None:
            sns_ids = thread_value("sns_batch_ids")
            if index < len(sns_ids):  # SNS delivering a PublishBatch: the entry's message
                keys = (message_id, sns_ids[index])
        self.record(
            HopKind.ENQUEUED,
            queue.name,
            keys=keys,
            correlation_ids=(
                attribute_value(attributes, "correlation_id")
                or body_correlation_id(message.get("Body")),
            ),
            trace_header=(message.get("Attributes") or {}).get("AWSTraceHeader"),
            new=True,
            # Outside a batch (None) or its first entry (0); the others share the trace.
            join_trace=not index,
            opens=(f"sqs:{message_id}",),
            message_id=message_id,
            sent_by=short_name(params.get("source_arn")) if params.get("source_arn") else None,
            delay_seconds=result.delay_seconds or None,
            message_group_id=result.message_group_id,
        )
        return result

    def _patched_receive_message(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        context = arg(args, kwargs, 0, "context")
        params = getattr(context, "internal_request_params", None) or {}
        receiver = short_name(params["source_arn"]) if params.get("source_arn") else "client"
        with thread_set("sqs_receiver", receiver):
            return wrapped(*args, **kwargs)

    def _patched_queue_receive(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = wrapped(*args, **kwargs)
        if not enabled():
            return result
        store = self.store
        receiver = thread_value("sqs_receiver") or "internal"
        for message in result.successful:
            message_id = _message_id(message)
            if store.knows(message_id):
                self.record(
                    HopKind.RECEIVED,
                    instance.name,
                    keys=(message_id,),
                    message_id=message_id,
                    receive_count=message.receive_count,
                    receiver=receiver,
                    visibility_timeout=message.visibility_timeout,
                )
        for message in result.dead_letter_messages:
            message_id = _message_id(message)
            if not store.knows(message_id):
                continue
            policy = instance.redrive_policy or {}
            limit = policy.get("maxReceiveCount")
            self.record(
                HopKind.DEAD_LETTERED,
                short_name(policy.get("deadLetterTargetArn")),
                keys=(message_id,),
                failed=True,
                reason=f"maxReceiveCount {limit} exceeded on {instance.name}",
                closes=(f"sqs:{message_id}",),
                message_id=message_id,
                source_queue=instance.name,
                receive_count=message.receive_count - 1,
                max_receive_count=int(limit) if limit is not None else None,
            )
        return result

    def _patched_remove(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        handle = arg(args, kwargs, 0, "receipt_handle")
        message = instance.receipts.get(handle)
        result = wrapped(*args, **kwargs)
        if message is not None and message.deleted:
            message_id = _message_id(message)
            if self.store.knows(message_id):
                self.record(
                    HopKind.DELETED,
                    instance.name,
                    keys=(message_id,),
                    closes=(f"sqs:{message_id}",),
                    message_id=message_id,
                    receive_count=message.receive_count,
                    deleted_by=thread_value("sqs_receiver") or "client",
                )
        return result

    def _patched_requeue_inflight_messages(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled() or not instance.inflight:
            return wrapped(*args, **kwargs)
        store = self.store
        expired = [
            m for m in list(instance.inflight) if m.is_visible and store.knows(_message_id(m))
        ]
        result = wrapped(*args, **kwargs)
        # Those no longer in flight were put back (a FIFO queue stops at an invisible one).
        for message in (m for m in expired if m not in instance.inflight):
            message_id = _message_id(message)
            self.record(
                HopKind.VISIBILITY_EXPIRED,
                instance.name,
                keys=(message_id,),
                message_id=message_id,
                receive_count=message.receive_count,
            )
        return result
