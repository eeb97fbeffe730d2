"""Webhooks fed from the committed log: the delivery records, signing, retries and the worker."""
