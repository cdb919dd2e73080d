"""Patches to LocalStack's Lambda service (named like moto's ``awslambda``)."""
