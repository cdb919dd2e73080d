"""One SQS event source mapping batch, filled by all of the mapping's pollers together.

Upstream: LocalStack's ``SqsPoller.poll_events`` makes one ``ReceiveMessage`` per batch
and honours ``MaximumBatchingWindowInSeconds`` only above 20 s (its wait override header
is sent only then); a shorter window returns as soon as one message is there. With the
sandbox's extra pollers (``esm.py``) receiving side by side, 30 messages sent within a 1 s
window to a BatchSize 20 mapping came as batches of 20, 9 and 1, 1,000 messages to a
BatchSize 1000 mapping as 59 invocations, where AWS invokes 20 + 10 and 1,000.

What AWS does (Lambda Developer Guide, "Using Lambda with Amazon SQS", batching): the
pollers gather messages until the batch holds BatchSize messages or the batching window
has passed, then invoke. ``BatchFilling`` does that for all pollers of a mapping: one
receive fills one batch, and one batch fills at a time (the others wait for the lock,
then fill the next one while the first is invoked). The window starts with the batch's
first message, so an idle queue costs nothing and a lone message waits the window, as on
AWS. A mapping without a window returns what one long poll (``LONG_POLL_SECONDS``) finds,
up to BatchSize, as before: LocalStack short-polls there and sleeps between empty polls,
so an event waited up to that sleep and every idle mapping made about 26 receives a
second, 6 % of LocalStack's CPU with two mappings (measured). A long poll returns as soon
as one message is there, with whatever else is ready, and is short so that a stopped
mapping's pollers end within a second. How many batches run at once is ``esm.py``'s
``_concurrency_limit``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

LONG_POLL_SECONDS = 1
# In a window's last second a long poll (whole seconds only) would overrun it: short polls
# this far apart instead.
SHORT_POLL_SPACING = 0.05
_MAX_PER_RECEIVE = 10  # ReceiveMessage's own limit; LocalStack's override header goes above


class BatchFilling:
    """The SQS client of one mapping's pollers: ``receive_message`` returns one batch."""

    def __init__(self, client: Any, poller: Any, stop: threading.Event) -> None:
        self._client = client
        self._poller = poller
        self._stop = stop
        self._filling = threading.Lock()

    def receive_message(self, **kwargs: Any) -> Any:
        # The window is ours to keep (LocalStack's override applies above 20 s only).
        kwargs.pop("sqs_override_wait_time_seconds", None)
        size = int(getattr(self._poller, "batch_size", _MAX_PER_RECEIVE))
        window = float(getattr(self._poller, "maximum_batching_window", 0) or 0)
        with self._filling:
            response = self._receive(kwargs, size, LONG_POLL_SECONDS)
            messages = list(response.get("Messages") or [])
            if not messages or not window:
                return response
            deadline = time.monotonic() + window
            while len(messages) < size and not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                more = self._receive(kwargs, size - len(messages), 1 if left >= 1 else 0)
                found = more.get("Messages") or []
                messages.extend(found)
                if not found and left < 1:
                    self._stop.wait(min(left, SHORT_POLL_SPACING))
            return {**response, "Messages": messages}

    def _receive(self, kwargs: dict[str, Any], count: int, wait: int) -> Any:
        request = {
            **kwargs,
            "MaxNumberOfMessages": min(count, _MAX_PER_RECEIVE),
            "sqs_override_max_message_count": count,  # sent by LocalStack's hook above 10
            "WaitTimeSeconds": wait,
        }
        return self._client.receive_message(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)
