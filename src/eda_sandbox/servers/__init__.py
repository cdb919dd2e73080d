"""The HTTP servers we run in place of LocalStack's: the gateway (``gateway``), the
DynamoDB process (``dynamodb``) and the keep-alive connection both use (``connection``)."""
