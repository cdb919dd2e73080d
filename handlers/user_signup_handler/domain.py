"""What user_signup_handler does with one SNS message, as pure functions (no AWS calls)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from eda_events.models import Signup, build_update, load_json_object, parse_signup


def parse_message(message: str) -> Signup:
    """Validate the SNS ``Message``: the signup JSON exactly as the producer published it."""
    return parse_signup(load_json_object(message, field="Message"))


def signup_payload(signup: Signup) -> dict[str, Any]:
    """The validated signup as the idempotent step's input (its event_id is the key)."""
    return asdict(signup)


def welcome_message(signup: Signup) -> str:
    return f"Welcome, {signup.name}!"


def welcome_update(signup: Signup) -> dict[str, Any]:
    """The USERS_TABLE welcome record for one signup (key user_id)."""
    return build_update(
        {"user_id": signup.user_id},
        {
            "email": signup.email,
            "name": signup.name,
            "welcome_message": welcome_message(signup),
            "event_id": signup.event_id,
            "correlation_id": signup.correlation_id,
        },
    )
