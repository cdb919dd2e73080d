"""PutEvents sized as AWS sizes it (applied as EventBridge loads,
``patches/loading.py``).

LocalStack 2026.3.0 counts only each entry's ``Detail``, in characters, against 256 KB,
and never the request: ten entries of 200 KB each passed, where AWS refuses the request;
and one 300 KB Detail failed, where AWS, since January 2026, takes up to 1 MB. This
sizes every entry and sums the request as AWS documents it (``eda_sandbox.limits``) and
refuses an oversized request with AWS's ``ValidationException``. A fidelity fix, so it
stays on with ``EDA_SANDBOX_SPEEDUPS=0``.
"""

from __future__ import annotations

import json
from typing import Any

from eda_sandbox.limits import EVENTBRIDGE_MAX_REQUEST_BYTES, putevents_request_size

OVER_LIMIT = "Total size of the entries in the request is over the limit."


def validate_entry(entry: dict[str, Any]) -> dict[str, str] | None:
    """LocalStack's per-entry validation without its Detail-length rule (the request
    check replaces it): required fields, and a Detail that is a JSON object."""
    for field in ("Source", "DetailType", "Detail"):
        if not entry.get(field):
            return {
                "ErrorCode": "InvalidArgument",
                "ErrorMessage": f"Parameter {field} is not valid. "
                f"Reason: {field} is a required argument.",
            }
    try:
        if isinstance(json.loads(entry["Detail"]), dict):
            return None
    except json.JSONDecodeError:
        pass
    return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}


def size_put_events_as_aws(*_args: Any) -> None:
    from localstack.services.events import provider
    from localstack.services.events.models import ValidationException

    process_entries = provider.EventsProvider._process_entries

    def checked(self: Any, context: Any, entries: Any) -> Any:
        if putevents_request_size(entries) > EVENTBRIDGE_MAX_REQUEST_BYTES:
            raise ValidationException(OVER_LIMIT)
        return process_entries(self, context, entries)

    provider.validate_event = validate_entry  # type: ignore[assignment]
    provider.EventsProvider._process_entries = checked  # type: ignore[method-assign]
