"""Error classes of the producers: one narrow class per failure, all under EdaAppError."""

from __future__ import annotations

from dataclasses import dataclass


class EdaAppError(Exception):
    """Base of every error the reference application's producers raise on purpose."""


class InvalidEventError(EdaAppError):
    """The event cannot be published as given; the message names the field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"invalid event: {field} {problem}")


class ConsumerRejectedError(InvalidEventError):
    """The consuming function's own model rejects the event; the message names the
    function, its model file and the field."""

    def __init__(self, function: str, model_file: str, field: str, problem: str) -> None:
        self.function = function
        self.model_file = model_file
        super().__init__(field, f"{problem} (rejected by {function}'s model, {model_file})")


class ConsumerModelError(EdaAppError):
    """The consuming function's model cannot be found or loaded, so nothing can be checked."""


class MessageTooLargeError(EdaAppError):
    """Refused before sending: the message is over the service's size limit."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        self.what = what
        self.size = size
        self.limit = limit
        super().__init__(f"{what} is {size} bytes, over the {limit}-byte limit; nothing was sent")


class OutputsError(EdaAppError):
    """The topology outputs file is missing, unreadable or lacks the resource asked for."""


class PublishError(EdaAppError):
    """The service refused or could not be reached; the message says which call and why."""


@dataclass(frozen=True)
class FailedEntry:
    """One PutEvents entry that was never accepted, with EventBridge's last word on it."""

    index: int
    event_id: str
    error_code: str
    error_message: str

    def __str__(self) -> str:
        return f"#{self.index} event_id={self.event_id}: {self.error_code} ({self.error_message})"


class PutEventsError(PublishError):
    """Some PutEvents entries were still failing after the retries.

    ``failed`` lists them (input index, event id, error code); ``sent_event_ids`` lists the
    event ids that did go through, so a caller can resend exactly the rest.
    """

    def __init__(self, failed: list[FailedEntry], sent_event_ids: list[str]) -> None:
        self.failed = failed
        self.sent_event_ids = sent_event_ids
        listing = "; ".join(str(entry) for entry in failed)
        super().__init__(
            f"{len(failed)} of {len(failed) + len(sent_event_ids)} EventBridge entries "
            f"failed: {listing}"
        )
