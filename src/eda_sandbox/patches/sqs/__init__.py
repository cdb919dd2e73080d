"""Additions to LocalStack's SQS service (named like moto's ``sqs``)."""
