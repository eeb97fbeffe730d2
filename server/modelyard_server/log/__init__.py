"""The append-only, hash-chained log: the audit trail and the source of every event stream."""
