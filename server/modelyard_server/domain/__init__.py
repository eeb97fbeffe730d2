"""Pure registry logic: names, validation, filters, policies and use cases (no grpc, no SQL)."""
