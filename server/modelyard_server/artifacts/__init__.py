"""Blob stores: where the registry keeps the bytes of the artifacts it holds."""
