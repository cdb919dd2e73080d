"""Code the reference application's functions share, shipped to them as the Lambda layer
``shared`` (``infra/topology.yaml``): the event schemas and writes (:mod:`.models`), the
failed-record backoff of the SQS consumers (:mod:`.retry_backoff`) and the idempotency and
outcome handling every handler wraps around its work (:mod:`.handling`).

:mod:`.models` and :mod:`.retry_backoff` use the standard library only. :mod:`.handling`
uses aws-lambda-powertools, which each function packages itself (its requirements.txt):
the task root comes before /opt on ``sys.path``, so layer code imports the function's copy.
"""
