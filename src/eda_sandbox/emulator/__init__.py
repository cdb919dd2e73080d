"""Running the emulator: LocalStack core started in host mode (``launcher``), the same
sandbox in a container (``docker``), the DynamoDB provider (``providers``) and the record
of the last topology apply (``applied``)."""
