"""Model versions to register: fresh artifacts with digests of their own."""

from __future__ import annotations

import hashlib
import uuid

from modelyard import ApprovalPolicy, ModelVersion, Registry, Stage


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


def self_approving_group(registry: Registry, group: str) -> None:
    """Creates a group whose admin may approve what it registered: for tests about what
    happens after approval, not about who approves."""
    registry.create_group(group)
    policy = registry.get_approval_policy(group)
    registry.update_approval_policy(
        ApprovalPolicy(name=policy.name, allow_self_approval=True, etag=policy.etag),
        update_mask=["allow_self_approval"],
    )


def released(registry: Registry, group: str, **fields: object) -> ModelVersion:
    """Registers a version, approves it and promotes it to production; returns it as
    registered (call get_version for its stage now)."""
    version = register(registry, group, **fields)
    registry.approve(version.name)
    registry.transition(version.name, Stage.STAGING)
    registry.promote(version.name)
    return version
