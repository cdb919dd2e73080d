"""AWS's size limits where the sandbox or a producer must compute them as AWS does.

Pure functions with no LocalStack import: the producers (``eda_app``) size their
requests with them before sending, and the sandbox's PutEvents check (patches) refuses
what AWS would refuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# EventBridge: "The total entry size must be less than" the event size limit, summed over
# the entries of one PutEvents request, each entry sized as documented in "Calculating
# Amazon EventBridge PutEvents event entry size"
# (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html).
# The limit is 1 MB since 29 January 2026 ("More room to build: serverless services now
# support payloads up to 1 MB", https://aws.amazon.com/blogs/compute/more-room-to-build-
# serverless-services-now-support-payloads-up-to-1-mb); it was 256 KB before. SNS kept
# 256 KB (sns_size in eda_app.events).
EVENTBRIDGE_MAX_REQUEST_BYTES = 1024 * 1024
# The Time parameter counts 14 bytes whatever its value.
_TIME_BYTES = 14


def _utf8(value: object) -> int:
    return len(str(value).encode("utf-8"))


def putevents_entry_size(entry: Mapping[str, Any]) -> int:
    """Bytes EventBridge counts for one PutEvents entry: Time (14 if given), Source,
    DetailType, Detail and every Resources element, UTF-8 encoded. EventBusName and
    TraceHeader do not count."""
    size = _TIME_BYTES if entry.get("Time") is not None else 0
    for field in ("Source", "DetailType", "Detail"):
        if entry.get(field) is not None:
            size += _utf8(entry[field])
    for resource in entry.get("Resources") or ():
        if resource is not None:
            size += _utf8(resource)
    return size


def putevents_request_size(entries: Iterable[Mapping[str, Any]]) -> int:
    """Bytes of a whole PutEvents request, which must stay within the limit."""
    return sum(putevents_entry_size(entry) for entry in entries)
