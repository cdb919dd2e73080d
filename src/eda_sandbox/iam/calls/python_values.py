"""The values the boto3 call finder tracks, and boto3's resource models it reads."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

from eda_sandbox.iam.calls.base import Given, Origin


@dataclass(frozen=True)
class Qual:
    """An imported name, dotted: ``boto3.client``, ``os.environ``."""

    name: str


@dataclass(frozen=True)
class Client:
    service: str


@dataclass(frozen=True)
class Dynamic:
    """A client or resource whose service the code computes."""

    origin: Origin


@dataclass(frozen=True)
class ServiceResource:
    service: str


@dataclass(frozen=True)
class SubResource:
    service: str
    type: str
    given: tuple[Given, ...]


@dataclass(frozen=True)
class Meta:
    """A resource's ``meta``, whose ``client`` is a client of the resource's service."""

    service: str


@dataclass(frozen=True)
class Paginator:
    service: str
    operation: str


@dataclass(frozen=True)
class Session:
    pass


@dataclass(frozen=True)
class Module:
    name: str


@dataclass(frozen=True)
class Function:
    module: str
    name: str  # a method is Class.method


@dataclass(frozen=True)
class Class:
    module: str
    name: str


@dataclass(frozen=True)
class Instance:
    module: str
    name: str


Value = Any  # one of the frozen dataclasses above
Values = frozenset[Value]
NOTHING: Values = frozenset()


@functools.cache
def resource_model(service: str) -> dict[str, Any] | None:
    import boto3
    import botocore.loaders
    from botocore.exceptions import DataNotFoundError

    data = os.path.join(os.path.dirname(boto3.__file__), "data")
    loader = botocore.loaders.Loader(extra_search_paths=[data])
    try:
        model: dict[str, Any] = loader.load_service_model(service, "resources-1")
    except DataNotFoundError:
        return None
    return model


def snake(name: str) -> str:
    from botocore import xform_name

    result: str = xform_name(name)
    return result
