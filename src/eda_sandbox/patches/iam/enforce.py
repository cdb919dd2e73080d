"""Identity-policy enforcement for Lambda functions' calls (``EDA_SANDBOX_ENFORCE_IAM=1``).

Upstream behaviour changed: LocalStack core accepts every request from every caller (only
its paid edition enforces IAM). With enforcement on, a request signed with a function's
role session (``principals.py``) is evaluated against that role's identity policies
(``eda_sandbox.iam.evaluation``: explicit deny, then allow, else deny) for the action and
resources the request needs (``resources.py``), and refused as AWS refuses it: the
service's access-denied error, in its protocol, with AWS's message naming the principal,
action and resource.

Who is not checked, and why:

- LocalStack's internal calls (``x-localstack-data``; the direct calls of
  ``patches/internal_calls`` never reach the chain): SNS delivering to SQS, EventBridge to
  its targets, event source mappings polling, Lambda's log uploads and on-failure
  destinations are service-to-service deliveries, authorized on AWS by resource policies
  (see ``patches/events/permissions.py``) or by the service itself;
- callers with any other key (the test harness and the CLI use ``test``): only role
  sessions have policies to evaluate.

Off by default: then only the sessions of roles tagged ``eda-sandbox:enforce-iam=true``
are checked (so one test can check one function in a shared sandbox). The cost is
measured in ``bench/iam_enforcement_cost.py``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from localstack.aws.api import CommonServiceException
from localstack.http import Request, route
from localstack.runtime import hooks
from localstack.utils.aws.request_context import extract_access_key_id_from_auth_header

from eda_sandbox.config import IAM_PATH, load_settings
from eda_sandbox.iam.evaluation import Decision, decide
from eda_sandbox.patches.iam import principals, resources

LOG = logging.getLogger(__name__)

# Each service's own access-denied error: (code, HTTP status).
DENIAL_ERRORS: dict[str, tuple[str, int]] = {
    "sqs": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "s3": ("AccessDenied", 403),
    "lambda": ("AccessDeniedException", 403),
}
DEFAULT_DENIAL = ("AccessDeniedException", 400)


class AccessDenied(CommonServiceException):
    """A function's call that its role's identity policies do not allow."""

    def __init__(self, service: str, message: str) -> None:
        code, status = DENIAL_ERRORS.get(service, DEFAULT_DENIAL)
        super().__init__(code, message, status_code=status, sender_fault=True)


def denial_message(principal: str, action: str, resource: str, decision: Decision) -> str:
    """AWS's wording for an identity-policy denial."""
    head = f"User: {principal} is not authorized to perform: {action} on resource: {resource}"
    if decision is Decision.EXPLICIT_DENY:
        return f"{head} with an explicit deny in an identity-based policy"
    return f"{head} because no identity-based policy allows the {action} action"


class Counters:
    """What the enforcer decided since the start, for ``/_eda-sandbox/iam``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.checked = 0
        self.denied = 0
        self.unmapped: set[str] = set()


class IdentityPolicyEnforcer:
    """A handler in LocalStack's request chain, after the request is parsed.

    ``everyone``: every role session is checked (``EDA_SANDBOX_ENFORCE_IAM=1``); else
    only those of roles tagged ``eda-sandbox:enforce-iam=true``.
    """

    def __init__(self, everyone: bool) -> None:
        self.everyone = everyone
        self.counters = Counters()

    def __call__(self, chain: Any, context: Any, response: Any) -> None:
        if context.is_internal_call or context.operation is None or context.service is None:
            return
        key = extract_access_key_id_from_auth_header(context.request.headers)
        session = principals.session_for(key)
        if session is None:
            return
        if self.everyone or principals.opted_in(session.role_arn):
            self.check(session, context)

    def check(self, session: principals.RoleSession, context: Any) -> None:
        """Raise :class:`AccessDenied` unless ``session``'s role allows the request."""
        service = context.service.service_name
        operation = context.operation.name
        needed = resources.target(
            service, operation, context.service_request or {}, context.account_id, context.region
        )
        with self.counters.lock:
            self.counters.checked += 1
        if needed is None:
            self._unmapped(service, operation)
            return
        policies = principals.role_policies(session)
        for action in needed.actions:
            for resource in needed.resources:
                decision = (
                    decide(policies, action=action, resource=resource)
                    if policies is not None
                    else Decision.IMPLICIT_DENY
                )
                if not decision.allowed:
                    message = denial_message(session.arn, action, resource, decision)
                    with self.counters.lock:
                        self.counters.denied += 1
                    LOG.warning("IAM enforcement: %s", message)
                    raise AccessDenied(service, message)

    def _unmapped(self, service: str, operation: str) -> None:
        name = f"{service}:{operation}"
        if resources.actions(service, operation) is None and name not in self.counters.unmapped:
            with self.counters.lock:
                self.counters.unmapped.add(name)
            LOG.warning("IAM enforcement: no IAM action known for %s; not checked", name)


class IamStatusEndpoint:
    """``GET /_eda-sandbox/iam``: whether this sandbox enforces for every role (``enforce``;
    tagged roles are checked either way), and what it decided."""

    def __init__(self, enforcer: IdentityPolicyEnforcer) -> None:
        self.enforcer = enforcer

    @route(IAM_PATH, methods=["GET"])
    def status(self, request: Request) -> dict[str, Any]:
        counters = self.enforcer.counters
        with counters.lock:
            return {
                "enforce": self.enforcer.everyone,
                "opt_in_tag": principals.OPT_IN_TAG,
                "checked": counters.checked,
                "denied": counters.denied,
                "unchecked_operations": sorted(counters.unmapped),
            }


@hooks.on_infra_start()
def enforce_identity_policies(*_args: Any) -> None:
    from localstack.aws import handlers
    from localstack.services.edge import ROUTER

    # Installed either way: roles tagged for it are checked in every sandbox, and a
    # request from any other caller costs a look at its access key's prefix.
    enforcer = IdentityPolicyEnforcer(everyone=load_settings().enforce_iam)
    ROUTER.add(IamStatusEndpoint(enforcer))
    handlers.serve_custom_service_request_handlers.append(enforcer)
    if enforcer.everyone:
        LOG.info("eda-sandbox: functions' calls are checked against their roles' policies")
