"""Failed records come back after a short, growing backoff, not the whole visibility timeout.

An event source mapping leaves failed records (``batchItemFailures``) on the queue, so
they reappear only when their visibility timeout ends; AWS advises at least 6x the
function timeout, which makes every retry wait a minute or more. Shortening the
visibility of just the failed records (the usual AWS pattern) retries them after
``base * 2**(receive count - 1)`` seconds; the queue's long timeout stays the safety net
for crashes and timeouts, and ``maxReceiveCount`` still moves a poison record to the DLQ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MAX_VISIBILITY_SECONDS = 43_200  # SQS's limit
_BATCH = 10  # ChangeMessageVisibilityBatch takes at most 10 entries


def backoff_entries(
    records: Iterable[Mapping[str, Any]], failed_ids: Iterable[str], base_seconds: int
) -> list[list[dict[str, Any]]]:
    """ChangeMessageVisibilityBatch entries for the failed records, in calls of <= 10."""
    failed = set(failed_ids)
    entries = []
    for record in records:
        if record.get("messageId") not in failed:
            continue
        received = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        seconds = min(base_seconds * 2 ** max(received - 1, 0), MAX_VISIBILITY_SECONDS)
        entries.append(
            {
                "Id": str(len(entries)),
                "ReceiptHandle": record["receiptHandle"],
                "VisibilityTimeout": seconds,
            }
        )
    return [entries[i : i + _BATCH] for i in range(0, len(entries), _BATCH)]


def retry_failed_soon(
    sqs: Any,
    queue_url: str,
    event: Mapping[str, Any],
    failed_ids: Iterable[str],
    base_seconds: int,
    logger: Any,
) -> None:
    """Apply the backoff; a failure here only means the records wait the full timeout."""
    if base_seconds <= 0 or not queue_url:
        return
    for entries in backoff_entries(event.get("Records", []), failed_ids, base_seconds):
        try:
            response = sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
        except Exception:  # the queue's own timeout still brings them back
            logger.exception("could not shorten the visibility of failed records")
            return
        for failure in response.get("Failed", []):
            logger.warning("visibility not shortened", extra={"failure": failure})
