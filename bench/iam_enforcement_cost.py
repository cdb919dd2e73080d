"""CPU cost of IAM enforcement per request, through LocalStack's whole gateway, in this process.

A function's SQS ``SendMessage`` (signed with a role session, as a function's client signs
it) goes through LocalStack's gateway handler chain in memory (its parser, handlers, the
SQS provider, its serializer), with the enforcement handler in the chain and without,
in alternating rounds, so host drift hits both alike. The ratio on/off is what enforcement
adds to such a request; the per-request difference is what it costs. Requests from other
callers (the ``test`` key) are measured too: with enforcement installed they pay only a
look at the key's prefix.

    .venv/bin/python bench/iam_enforcement_cost.py [--requests 500] [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import uuid
from typing import Any

import boto3
from _common import cpu_probe_ms, load_avg
from localstack import config as localstack_config

ACCOUNT = "000000000000"
REGION = "us-east-1"


def _role_session_key() -> str:
    """A role allowed to send to any queue, and a session of it, as Lambda leaves them."""
    from localstack.aws.api.iam import Role
    from localstack.services.iam.models import RoleEntity, iam_stores
    from localstack.services.iam.utils import generate_temp_access_key_id
    from localstack.services.sts.models import TemporaryCredentials, sts_stores

    name = f"bench-{uuid.uuid4().hex[:8]}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fn:*"},
            {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:CreateQueue"],
             "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:bench-*"},
        ],
    }  # fmt: skip
    iam_stores[ACCOUNT]["us-east-1"].ROLES[name] = RoleEntity(
        role=Role(RoleName=name, Arn=f"arn:aws:iam::{ACCOUNT}:role/{name}"),
        inline_policies={"least-privilege": json.dumps(policy)},
    )
    key = generate_temp_access_key_id(ACCOUNT)
    sts_stores[ACCOUNT]["us-east-1"].credentials[key] = TemporaryCredentials(
        access_key_id=key,
        secret_access_key="secret",
        session_token="token",
        expiration=None,  # type: ignore[arg-type]
        account_id=ACCOUNT,
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/fn",
        user_id="AROABENCH",
    )
    return key


def _client(gateway: Any, key: str) -> Any:
    from localstack.aws.client import GatewayShortCircuit
    from localstack.aws.connect import get_service_endpoint

    client = boto3.session.Session().client(
        "sqs",
        region_name=REGION,
        # The endpoint the short circuit hands to the gateway in memory.
        endpoint_url=get_service_endpoint(),
        aws_access_key_id=key,
        aws_secret_access_key="secret",
        aws_session_token="token" if key.startswith("LSIA") else None,
    )
    GatewayShortCircuit.modify_client(client, gateway)
    return client


def _round(client: Any, url: str, requests: int) -> float:
    """CPU milliseconds per SendMessage."""
    started = time.process_time()
    for n in range(requests):
        client.send_message(QueueUrl=url, MessageBody=f'{{"n": {n}}}')
    return (time.process_time() - started) / requests * 1000


def _check_alone(enforcer: Any, clients: dict[str, Any], url: str) -> dict[str, list[float]]:
    """Microseconds of CPU the handler takes per request, for each caller: the same
    contexts the gateway builds, captured once, then handed to the handler in a loop."""
    from localstack.aws import handlers

    captured: dict[str, Any] = {}

    def capture(chain: Any, context: Any, response: Any) -> None:
        captured[context.request.headers["Authorization"].split("=", 1)[1][:4]] = context

    handlers.serve_custom_service_request_handlers.append(capture)
    try:
        for client in clients.values():
            client.send_message(QueueUrl=url, MessageBody="capture")
    finally:
        handlers.serve_custom_service_request_handlers.handlers.remove(capture)
    contexts = {"function": captured["LSIA"], "test": captured["test"]}
    out: dict[str, list[float]] = {caller: [] for caller in contexts}
    for _ in range(10):
        for caller, context in contexts.items():
            started = time.process_time()
            for _ in range(5000):
                enforcer(None, context, None)
            out[caller].append((time.process_time() - started) / 5000 * 1e6)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    localstack_config.SQS_DISABLE_CLOUDWATCH_METRICS = True
    from localstack.aws import handlers
    from localstack.aws.app import LocalstackAwsGateway
    from localstack.aws.client import botocore_in_memory_endpoint_patch

    # What LocalStack applies for its in-memory clients: requests keep their parameters.
    botocore_in_memory_endpoint_patch.apply()

    from eda_sandbox.patches.iam.enforce import IdentityPolicyEnforcer

    gateway = LocalstackAwsGateway()
    enforcer = IdentityPolicyEnforcer(everyone=True)
    clients = {"function": _client(gateway, _role_session_key()), "test": _client(gateway, "test")}
    url = clients["test"].create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    # Warm-up in both modes: imports, specs, caches, and the action data the check loads
    # on its first request (policy_sentry's, about 0.3 s).
    handlers.serve_custom_service_request_handlers.append(enforcer)
    for client in clients.values():
        _round(client, url, 200)
    handlers.serve_custom_service_request_handlers.handlers.remove(enforcer)
    for client in clients.values():
        _round(client, url, 200)
    results: dict[tuple[str, bool], list[float]] = {}
    probe_before = cpu_probe_ms()
    for _ in range(args.rounds):
        for on in (False, True):
            if on:
                handlers.serve_custom_service_request_handlers.append(enforcer)
            try:
                for caller, client in clients.items():
                    results.setdefault((caller, on), []).append(_round(client, url, args.requests))
            finally:
                if on:
                    handlers.serve_custom_service_request_handlers.handlers.remove(enforcer)
    assert enforcer.counters.denied == 0, "the bench role must allow what it sends"
    check_us = _check_alone(enforcer, clients, url)
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')} {platform.node()} {platform.processor() or ''} "
        f"load {load_avg()}, CPU probe {probe_before} -> {cpu_probe_ms()} ms; "
        f"{args.rounds} rounds x {args.requests} SendMessage per caller and mode"
    )
    alone = {caller: statistics.median(us) for caller, us in check_us.items()}
    print(
        "the check alone (the handler on a parsed request, median of 10 rounds of 5000): "
        f"function {alone['function']:.1f} us, test {alone['test']:.1f} us"
    )
    for caller in clients:
        off = statistics.median(results[(caller, False)])
        on = statistics.median(results[(caller, True)])
        ratios = [b / a for a, b in zip(results[(caller, False)], results[(caller, True)],
                                         strict=True)]  # fmt: skip
        print(
            f"{caller:8} off {off:.3f} ms, on {on:.3f} ms per request (median CPU); "
            f"on/off {statistics.median(ratios):.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f}), "
            f"+{(on - off) * 1000:.0f} us"
        )


if __name__ == "__main__":
    main()
