"""IAM enforcement for Lambda functions' calls, opt-in (``EDA_SANDBOX_ENFORCE_IAM=1``).

- ``principals``: the role session a request's key belongs to, and that role's policies;
- ``resources``: the IAM action and resource ARNs a parsed request needs;
- ``enforce``: the request-chain handler that refuses what the role does not allow, and
  ``/_eda-sandbox/iam``;
- ``deliveries``: SNS's deliveries to queues and functions checked against their
  resource policies.
"""
