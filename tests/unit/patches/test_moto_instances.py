"""moto's models are not kept alive by its instance tracking (the DynamoDB process leak)."""

from __future__ import annotations

import copy

from moto.dynamodb.models.dynamo_type import DynamoType, Item

from eda_sandbox.patches import moto_instances


def _copies(n: int) -> None:
    # What each UpdateItem does: a deep copy of the item it changes.
    item = Item(hash_key=DynamoType({"S": "k"}), range_key=None, attrs={"pk": {"S": "k"}})
    for _ in range(n):
        copy.deepcopy(item)


def test_copied_items_are_kept_by_moto_and_not_once_patched() -> None:
    moto_instances.restore()
    before = len(Item.instances_tracked)  # type: ignore[attr-defined]
    _copies(100)
    assert len(Item.instances_tracked) - before >= 100  # type: ignore[attr-defined]
    moto_instances.stop_tracking_instances()
    try:
        before = len(Item.instances_tracked)  # type: ignore[attr-defined]
        _copies(100)
        assert len(Item.instances_tracked) == before  # type: ignore[attr-defined]
        copied = copy.deepcopy(Item(DynamoType({"S": "a"}), None, {"pk": {"S": "a"}}))
        assert copied.attrs["pk"] == DynamoType({"S": "a"})  # models work as before
    finally:
        moto_instances.restore()


def test_moto_s3_models_stay_tracked_for_its_reset() -> None:
    from moto.s3.models import FakeBucket

    moto_instances.stop_tracking_instances()
    try:
        before = len(FakeBucket.instances_tracked)  # type: ignore[attr-defined]
        FakeBucket("bucket-a", "000000000000", "us-east-1")  # type: ignore[abstract]
        assert len(FakeBucket.instances_tracked) == before + 1  # type: ignore[attr-defined]
    finally:
        moto_instances.restore()
