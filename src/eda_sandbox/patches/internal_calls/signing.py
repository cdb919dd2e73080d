"""SigV4 headers without the signature, for LocalStack's internal clients.

Every event crosses LocalStack's services through its internal boto clients several
times: SNS delivers to SQS, an event source mapping receives, invokes and deletes, the
async invoker queues and dequeues. With ``IN_MEMORY_CLIENT`` those calls skip HTTP,
but each is still signed with SigV4, and signing was a quarter of an SNS-to-SQS
delivery's cost (py-spy, bench/RESULTS.md). Nobody checks those signatures: LocalStack
reads the access key (the account) and the region from the ``Authorization`` header
and never verifies the signature, and the request never leaves the process.

So internal clients of the services on the event path write the same headers SigV4
would (``Authorization`` with the credential scope, ``X-Amz-Date``, the session token)
with a placeholder signature. Everything else stays: presigned URLs, other signature
versions, S3 (whose payload hashing LocalStack does read) and clients users create.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

LOG = logging.getLogger(__name__)

# Services whose internal calls are on the event path; S3 is left out on purpose.
SERVICES = frozenset({"sqs", "sns", "lambda", "logs", "events", "dynamodb", "sts"})
PLACEHOLDER_SIGNATURE = "0" * 64


def placeholder_authorization(access_key: str, day: str, region: str, service: str) -> str:
    """SigV4's ``Authorization`` header with a placeholder where the signature would be:
    what LocalStack and moto read from it (access key, region), without the hashing."""
    return (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{day}/{region}/{service}/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={PLACEHOLDER_SIGNATURE}"
    )


class HeaderOnlySigV4:
    """SigV4's headers, with a placeholder where the signature would be."""

    def __init__(self, credentials: Any, region_name: str, service_name: str) -> None:
        self.credentials = credentials
        self.region_name = region_name
        self.service_name = service_name

    def add_auth(self, request: Any) -> None:
        now = datetime.datetime.now(datetime.UTC)
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        headers = request.headers
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in headers:
                del headers[name]
        headers["X-Amz-Date"] = stamp
        if self.credentials.token:
            headers["X-Amz-Security-Token"] = self.credentials.token
        headers["Authorization"] = placeholder_authorization(
            self.credentials.access_key, stamp[:8], self.region_name, self.service_name
        )


def skip_signatures(client: Any) -> Any:
    """Give ``client`` header-only SigV4 when it is an event-path service; else as is."""
    if client.meta.service_model.service_name not in SERVICES:
        return client
    signer = client._request_signer
    original = signer.get_auth_instance

    def get_auth_instance(
        signing_name: str, region_name: str, signature_version: Any = None, **kwargs: Any
    ) -> Any:
        auth = original(signing_name, region_name, signature_version, **kwargs)
        # Exactly plain SigV4 (not S3's, not a presign with "expires"), with credentials.
        plain = type(auth).__name__ in ("SigV4Auth", "CrtSigV4Auth")
        if not plain or "expires" in kwargs or getattr(auth, "credentials", None) is None:
            return auth
        return HeaderOnlySigV4(auth.credentials, auth._region_name, auth._service_name)

    signer.get_auth_instance = get_auth_instance
    signer.get_auth = get_auth_instance
    return client
