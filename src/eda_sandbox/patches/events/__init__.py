"""Patches to LocalStack's EventBridge service: target delivery as AWS does it."""
