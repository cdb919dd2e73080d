"""Changes to LocalStack's and moto's behaviour, one module per upstream part they change.

Each module opens with the upstream behaviour it changes and why, and registers itself as
an ``on_infra_start`` hook (``localstack.hooks.on_infra_start`` entry points in
``pyproject.toml``), except the Lambda and EventBridge patches, which ``loading`` applies
as their service loads (``loading.SERVICE_PATCHES``). Speed-ups check
``switch.enabled()``; fixes are always on.

- ``gateway``: LocalStack's HTTP gateway (bind host, request parsing and logging);
- ``loading``: when and how LocalStack's services load (behind the serving gateway);
- ``internal_calls``: the clients LocalStack's services use to call each other;
- ``awslambda``: the Lambda service (event source mappings, async invokers, logs, starts,
  the runtimes CreateFunction accepts, the trace header a mapping's invocation carries);
- ``sqs``: the SQS store's statistics served over HTTP (oldest message age, for ``dlq list``);
- ``events``: EventBridge's delivery to rule targets (policies, retries, dead-letter queue);
- ``iam``: functions' calls checked against their roles' policies (opt-in);
- ``moto``: moto's DynamoDB and action lookup;
- ``gc_freeze``: CPython's garbage collector in LocalStack and the DynamoDB process.
"""
