"""Patches to LocalStack's EventBridge service: target delivery as AWS does it, and
PutEvents sized as AWS sizes it (``size``)."""
