"""Journeys: every hop of an event, recorded inside the sandbox and read by id."""

from eda_sandbox.journeys.model import Hop, HopKind, Journey
from eda_sandbox.journeys.store import JourneyStore, get_store

__all__ = ["Hop", "HopKind", "Journey", "JourneyStore", "get_store"]
