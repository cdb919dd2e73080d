"""Journey tracing: one instrumentor per service, wrapping LocalStack's own functions."""

from eda_sandbox.patches.tracing.awslambda import LambdaInstrumentor
from eda_sandbox.patches.tracing.base import Instrumentor
from eda_sandbox.patches.tracing.events import EventsInstrumentor
from eda_sandbox.patches.tracing.sns import SnsInstrumentor
from eda_sandbox.patches.tracing.sqs import SqsInstrumentor

__all__ = [
    "EventsInstrumentor",
    "Instrumentor",
    "LambdaInstrumentor",
    "SnsInstrumentor",
    "SqsInstrumentor",
]
