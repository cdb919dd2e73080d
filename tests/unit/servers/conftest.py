"""Fixtures for the HTTP servers' tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gateway_harness import Running, serving


@pytest.fixture
def srv() -> Iterator[Running]:
    """A gateway server answering with what it handed the gateway (``echo``)."""
    with serving() as running:
        yield running
