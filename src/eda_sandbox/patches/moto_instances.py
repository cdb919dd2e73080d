"""moto's models stop keeping every instance they ever made (a fix, always on).

Upstream behaviour changed: moto's ``BaseModel.__new__`` appends each new model object
to a list on its class (``instances_tracked``), for moto's own ``/moto-api`` data view
and S3's reset, and nothing ever removes one. In a long-running server every such object
therefore lives forever: a DynamoDB ``UpdateItem`` deep-copies the item it changes, so
the DynamoDB process kept two ``Item`` objects per request, 2.3-2.8 KB of RSS per request
with no data growth (50 keys updated 8,000 times: 87 -> 105-109 MB; issue 20's soak
saw the DynamoDB process grow 30 % from its second quarter to its last).

What changes: instances are not tracked, except moto S3's, whose reset reads the list
(LocalStack serves S3 with its own provider, so none are made here anyway). The sandbox
and LocalStack never read the lists otherwise, and nothing else about a model changes.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks

# Modules whose models moto itself reads back from instances_tracked.
STILL_TRACKED = ("moto.s3.",)

_applied: list[Any] = []


def stop_tracking_instances() -> None:
    """Patch moto's ``BaseModel`` once per process (idempotent)."""
    if _applied:
        return
    from moto.core.common_models import BaseModel

    original = BaseModel.__new__

    def __new__(cls: Any, *args: Any, **kwargs: Any) -> Any:
        if cls.__module__.startswith(STILL_TRACKED):
            return original(cls, *args, **kwargs)
        return super(BaseModel, cls).__new__(cls)  # BaseModel's own, less the append

    BaseModel.__new__ = __new__  # type: ignore[method-assign]
    _applied.append(original)


def restore() -> None:
    """Put moto's own ``__new__`` back (for tests)."""
    from moto.core.common_models import BaseModel

    while _applied:
        BaseModel.__new__ = _applied.pop()  # type: ignore[method-assign]


@hooks.on_infra_start()
def untrack_moto_instances(*_args: Any) -> None:
    # LocalStack's moto-backed services (IAM, STS, CloudWatch Logs) are long-lived too.
    stop_tracking_instances()
