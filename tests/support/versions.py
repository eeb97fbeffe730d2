"""Model versions to register: fresh artifacts with digests of their own."""

from __future__ import annotations

import hashlib
import uuid

from modelyard import ModelVersion, Registry


def sha(seed: object | None = None) -> str:
    """A SHA-256 digest, unique unless the same seed is given twice."""
    return hashlib.sha256(str(seed if seed is not None else uuid.uuid4()).encode()).hexdigest()


def register(registry: Registry, group: str, **fields: object) -> ModelVersion:
    """Registers a version with a fresh artifact; fields override the defaults."""
    args: dict[str, object] = {
        "uri": f"s3://models/{group}/{uuid.uuid4().hex}.onnx",
        "sha256": sha(),
    }
    args.update(fields)
    return registry.register(group, **args)  # type: ignore[arg-type]
