"""Internal clients of event-path services send SigV4's headers without computing it."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from eda_sandbox.patches.internal_calls import clients
from eda_sandbox.patches.internal_calls import signing as internal_clients

AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=[^,]+, Signature=(?P<sig>[0-9a-f]{64})"
)


# The query protocol wants the operation's result element; the only one used here.
_EMPTY_XML = b"<ListTopicsResponse><ListTopicsResult/></ListTopicsResponse>"


class _Body:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **_kwargs: Any) -> list[bytes]:
        return [self.content]


def _client(service: str, token: str | None = None, region: str = "eu-west-1") -> Any:
    return boto3.session.Session().client(
        service,
        region_name=region,
        endpoint_url="http://127.0.0.1:1",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="secret",
        aws_session_token=token,
    )


def _sent_headers(client: Any, call: str, **params: Any) -> dict[str, str]:
    """The headers the client would send; the request never leaves the process."""
    seen: dict[str, str] = {}

    def capture(request: Any, **_kwargs: Any) -> AWSResponse:
        seen.update(
            {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        )
        xml = client.meta.service_model.protocol in ("query", "rest-xml")
        return AWSResponse(request.url, 200, {}, _Body(_EMPTY_XML if xml else b"{}"))

    client.meta.events.register("before-send.*.*", capture)
    getattr(client, call)(**params)  # an empty reply parses as an empty result
    return seen


@pytest.mark.parametrize(
    ("service", "call", "params"),
    [
        ("sqs", "list_queues", {}),
        ("sns", "list_topics", {}),
        ("lambda", "list_functions", {}),
        ("logs", "describe_log_groups", {}),
    ],
)
def test_event_path_clients_carry_the_scope_and_a_placeholder(
    service: str, call: str, params: dict[str, Any]
) -> None:
    client = internal_clients.skip_signatures(_client(service, token="session-token"))
    headers = _sent_headers(client, call, **params)

    match = AUTH.fullmatch(headers["Authorization"])
    assert match, headers["Authorization"]
    assert match["key"] == "AKIAEXAMPLE"
    assert match["region"] == "eu-west-1"
    assert match["service"] == service
    assert match["sig"] == internal_clients.PLACEHOLDER_SIGNATURE
    assert headers["X-Amz-Date"].startswith(match["date"])
    assert headers["X-Amz-Security-Token"] == "session-token"


def test_what_localstack_reads_from_the_header_is_unchanged() -> None:
    from localstack.utils.aws.request_context import (
        extract_access_key_id_from_auth_header,
        extract_region_from_auth_header,
    )

    signed = _sent_headers(_client("sqs"), "list_queues")
    cheap = _sent_headers(internal_clients.skip_signatures(_client("sqs")), "list_queues")

    assert cheap["Authorization"] != signed["Authorization"]
    for read in (extract_access_key_id_from_auth_header, extract_region_from_auth_header):
        assert read(cheap) == read(signed)
    assert "X-Amz-Security-Token" not in cheap


def test_s3_and_presigned_urls_keep_real_signatures() -> None:
    s3 = internal_clients.skip_signatures(_client("s3"))
    headers = _sent_headers(s3, "list_buckets")
    assert not headers["Authorization"].endswith(internal_clients.PLACEHOLDER_SIGNATURE)

    sqs = internal_clients.skip_signatures(_client("sqs"))
    url = sqs.generate_presigned_url("list_queues", ExpiresIn=60)
    assert "X-Amz-Signature=" in url
    assert internal_clients.PLACEHOLDER_SIGNATURE not in url


def test_the_hook_applies_to_localstack_internal_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    from localstack.aws.connect import InternalClientFactory

    monkeypatch.setattr(
        InternalClientFactory, "_get_client_post_hook", InternalClientFactory._get_client_post_hook
    )
    clients.cheaper_internal_clients()
    client = InternalClientFactory().get_client(
        "sqs",
        region_name="us-east-2",
        endpoint_url="http://127.0.0.1:1",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="secret",
    )
    auth = _sent_headers(client, "list_queues")["Authorization"]
    assert auth.endswith(internal_clients.PLACEHOLDER_SIGNATURE)
