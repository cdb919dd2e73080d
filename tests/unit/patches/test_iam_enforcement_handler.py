"""IAM enforcement inside LocalStack's process: role sessions from its STS store, policies
from its IAM store, the resources a request needs, and the refusal in the service's shape."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from localstack.aws.api import RequestContext
from localstack.aws.protocol.serializer import create_serializer
from localstack.aws.spec import load_service
from localstack.http import Request

from eda_sandbox.config import IAM_OPT_IN_TAG
from eda_sandbox.patches.iam import enforce, principals, resources
from eda_sandbox.patches.internal_calls.signing import placeholder_authorization

ACCOUNT = "000000000000"
REGION = "us-east-1"
QUEUE_URL = f"http://127.0.0.1:4566/queue/{REGION}/{ACCOUNT}/Jobs"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:Jobs"


def context_for(
    service: str, operation: str, params: dict[str, Any], key: str, *, internal: bool = False
) -> Any:
    headers = {"Authorization": placeholder_authorization(key, "20261203", REGION, service)}
    if internal:
        headers["x-localstack-data"] = "{}"
    context: Any = RequestContext(Request("POST", "/", headers=headers))
    model = load_service(service)
    context.service = model
    context.operation = model.operation_model(operation)
    context.protocol = model.resolved_protocol
    context.service_request = params
    context.account_id, context.region = ACCOUNT, REGION
    if internal:
        context.internal_request_params = {}
    return context


@pytest.fixture
def role_session() -> Iterator[Callable[..., str]]:
    """``role_session(statements, tagged=False)``: a role with that inline policy and a
    session of it in LocalStack's stores, as Lambda's AssumeRole leaves them; its key."""
    from localstack.aws.api.iam import Role
    from localstack.services.iam.models import RoleEntity, iam_stores
    from localstack.services.iam.utils import generate_temp_access_key_id
    from localstack.services.sts.models import TemporaryCredentials, sts_stores

    made: list[tuple[str, str]] = []
    store = iam_stores[ACCOUNT]["us-east-1"]

    def create(statements: list[dict[str, Any]], *, tagged: bool = False) -> str:
        name = f"role-{uuid.uuid4().hex[:8]}"
        arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
        document = json.dumps({"Version": "2012-10-17", "Statement": statements})
        store.ROLES[name] = RoleEntity(
            role=Role(RoleName=name, Arn=arn), inline_policies={"p": document}
        )
        if tagged:
            store.TAGS.update_tags(arn, {IAM_OPT_IN_TAG: "true"})
        key = generate_temp_access_key_id(ACCOUNT)
        sts_stores[ACCOUNT]["us-east-1"].credentials[key] = TemporaryCredentials(
            access_key_id=key,
            secret_access_key="s",
            session_token="t",
            expiration=None,  # type: ignore[arg-type]
            account_id=ACCOUNT,
            arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/my-function",
            user_id="AROA",
        )
        made.append((name, key))
        return key

    yield create
    for name, key in made:
        store.ROLES.pop(name, None)
        sts_stores[ACCOUNT]["us-east-1"].credentials.pop(key, None)


SEND = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE_ARN}


def test_a_role_session_is_found_by_its_key_and_other_keys_are_not_sessions(
    role_session: Callable[..., str],
) -> None:
    key = role_session([SEND])
    session = principals.session_for(key)
    assert session is not None
    assert session.arn.endswith("/my-function")
    assert principals.role_policies(session) == [json.dumps({"Version": "2012-10-17",
                                                             "Statement": [SEND]})]  # fmt: skip
    for other in ("test", ACCOUNT, "__internal_call__", None, "LSIA" + "A" * 16):
        assert principals.session_for(other) is None


def test_an_allowed_call_passes_and_a_refused_one_gets_the_services_error(
    role_session: Callable[..., str],
) -> None:
    key = role_session([SEND])
    enforcer = enforce.IdentityPolicyEnforcer(everyone=True)
    enforcer(None, context_for("sqs", "SendMessageBatch", {"QueueUrl": QUEUE_URL}, key), None)
    refused = context_for("sqs", "DeleteMessage", {"QueueUrl": QUEUE_URL}, key)
    with pytest.raises(enforce.AccessDenied) as denied:
        enforcer(None, refused, None)
    session = principals.session_for(key)
    assert session is not None
    message = (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{session.role_name}/my-function is not "
        f"authorized to perform: sqs:DeleteMessage on resource: {QUEUE_ARN} because no "
        "identity-based policy allows the sqs:DeleteMessage action"
    )
    assert (denied.value.message, denied.value.status_code) == (message, 403)
    # As the gateway serializes it for the SQS client (JSON, query-compatible): AccessDenied.
    response = create_serializer(refused.service, refused.protocol).serialize_error_to_response(
        denied.value, refused.operation, refused.request.headers, "rid"
    )
    assert json.loads(response.data)["message"] == message
    assert response.headers["x-amzn-query-error"] == "AccessDenied;Sender"
    assert enforcer.counters.denied == 1


def test_internal_calls_and_other_keys_are_not_checked(role_session: Callable[..., str]) -> None:
    key = role_session([])
    enforcer = enforce.IdentityPolicyEnforcer(everyone=True)
    enforcer(None, context_for("sqs", "SendMessage", {"QueueUrl": QUEUE_URL}, key, internal=True),
             None)  # fmt: skip
    enforcer(None, context_for("sqs", "SendMessage", {"QueueUrl": QUEUE_URL}, "test"), None)
    assert enforcer.counters.checked == 0


def test_without_enforcement_for_all_only_tagged_roles_are_checked(
    role_session: Callable[..., str],
) -> None:
    enforcer = enforce.IdentityPolicyEnforcer(everyone=False)
    untagged, tagged = role_session([]), role_session([], tagged=True)
    enforcer(None, context_for("sqs", "SendMessage", {"QueueUrl": QUEUE_URL}, untagged), None)
    with pytest.raises(enforce.AccessDenied):
        enforcer(None, context_for("sqs", "SendMessage", {"QueueUrl": QUEUE_URL}, tagged), None)


def test_a_session_of_a_deleted_role_is_refused(role_session: Callable[..., str]) -> None:
    from localstack.services.iam.models import iam_stores

    key = role_session([SEND])
    session = principals.session_for(key)
    assert session is not None
    iam_stores[ACCOUNT]["us-east-1"].ROLES.pop(session.role_name)
    with pytest.raises(enforce.AccessDenied):
        enforce.IdentityPolicyEnforcer(everyone=True)(
            None, context_for("sqs", "SendMessage", {"QueueUrl": QUEUE_URL}, key), None
        )


TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Orders"


@pytest.mark.parametrize(
    ("service", "operation", "params", "actions", "arns"),
    [
        ("sqs", "SendMessageBatch", {"QueueUrl": QUEUE_URL}, ("sqs:SendMessage",), (QUEUE_ARN,)),
        ("sqs", "GetQueueUrl", {"QueueName": "Jobs"}, ("sqs:GetQueueUrl",), (QUEUE_ARN,)),
        ("dynamodb", "Query", {"TableName": "Orders", "IndexName": "ByDay"},
         ("dynamodb:Query",), (f"{TABLE}/index/ByDay",)),
        ("dynamodb", "BatchWriteItem", {"RequestItems": {"Orders": [], "Users": []}},
         ("dynamodb:BatchWriteItem",), (TABLE, TABLE.replace("Orders", "Users"))),
        ("lambda", "Invoke", {"FunctionName": "fn:live"}, ("lambda:InvokeFunction",),
         (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn:live",)),
        ("lambda", "Invoke", {"FunctionName": "arn:aws:lambda:eu-west-1:111111111111:function:f"},
         ("lambda:InvokeFunction",), ("arn:aws:lambda:eu-west-1:111111111111:function:f",)),
        ("events", "PutEvents",
         {"Entries": [{"Source": "s", "EventBusName": "app-bus"}, {"Source": "s"}]},
         ("events:PutEvents",),
         (f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/app-bus",
          f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default")),
        ("events", "DescribeRule", {"Name": "OrderPlaced", "EventBusName": "app-bus"},
         ("events:DescribeRule",),
         (f"arn:aws:events:{REGION}:{ACCOUNT}:rule/app-bus/OrderPlaced",)),
        ("events", "DescribeEventBus", {"Name": "app-bus"}, ("events:DescribeEventBus",),
         (f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/app-bus",)),
        ("sns", "Unsubscribe", {"SubscriptionArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:T:abc"},
         ("sns:Unsubscribe",), (f"arn:aws:sns:{REGION}:{ACCOUNT}:T",)),
        ("logs", "PutLogEvents", {"logGroupName": "/g", "logStreamName": "s"},
         ("logs:PutLogEvents",), (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/g:log-stream:s",)),
    ],
)  # fmt: skip
def test_the_action_and_resources_a_request_needs(
    service: str, operation: str, params: dict[str, Any], actions: Any, arns: Any
) -> None:
    needed = resources.target(service, operation, params, ACCOUNT, REGION)
    assert needed == resources.Target(actions, arns)


def test_get_caller_identity_needs_no_permission() -> None:
    assert resources.target("sts", "GetCallerIdentity", {}, ACCOUNT, REGION) is None


def test_a_policy_document_is_parsed_once(role_session: Callable[..., str]) -> None:
    """The check runs per request: it makes no API call and parses each document once."""
    from eda_sandbox.iam import evaluation

    key = role_session([SEND])
    enforcer = enforce.IdentityPolicyEnforcer(everyone=True)
    context = context_for("sqs", "SendMessage", {"QueueUrl": QUEUE_URL}, key)
    enforcer(None, context, None)
    before = evaluation._parsed.cache_info().hits
    enforcer(None, context, None)
    assert evaluation._parsed.cache_info().hits == before + 1
