"""Register a trained model, find the best version, and read the audit trail, with types.

This is what a training pipeline's last step looks like with the SDK. It passes
``mypy --strict``: every value the SDK returns is a typed protobuf message or a typed
exception. Run it against a server::

    MODELYARD_ADDRESS=127.0.0.1:50051 MODELYARD_DATA_DIR=./modelyard-data \\
        python examples/typed_usage.py fraud-detector
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from datetime import UTC, datetime, timedelta

import modelyard
from modelyard import (
    AsyncRegistry,
    ColumnSpec,
    ColumnType,
    Lineage,
    ModelCard,
    ModelGroup,
    ModelSchema,
    ModelVersion,
    Registry,
)


def ensure_group(registry: Registry, group_id: str) -> ModelGroup:
    """Returns the group, creating it on the first run."""
    try:
        return registry.get_group(group_id)
    except modelyard.ModelGroupNotFound:
        return registry.create_group(
            group_id, description="Scores card transactions for fraud", tags={"team": "risk"}
        )


def register_model(registry: Registry, group_id: str, artifact: bytes) -> ModelVersion:
    """Returns the version these bytes are registered as, registering them if they are new."""
    digest = hashlib.sha256(artifact).hexdigest()
    try:
        return registry.register(
            group_id,
            uri=f"s3://models/{group_id}/{digest[:12]}.onnx",
            sha256=digest,
            size_bytes=len(artifact),
            format="onnx",
            framework="sklearn",
            framework_version="1.5.2",
            metrics={"auc": 0.93, "precision_at_1pct": 0.71},
            hyperparameters={"max_depth": "6", "n_estimators": "300"},
            tags={"pipeline": "nightly"},
            description="Nightly retrain on the last 90 days",
            lineage=Lineage(
                code_repository="https://github.com/acme/fraud",
                code_commit="3f2c9e1",
                dataset_uri="s3://data/fraud/2026-11-01/",
            ),
            model_card=ModelCard(
                intended_use="Ranking card transactions for manual review.",
                limitations="Not calibrated for merchants outside the EU.",
            ),
            schema=ModelSchema(
                inputs=[
                    ColumnSpec(name="amount", type=ColumnType.COLUMN_TYPE_DOUBLE, min=0.0),
                    ColumnSpec(name="merchant", type=ColumnType.COLUMN_TYPE_STRING),
                ],
                outputs=[ColumnSpec(name="score", type=ColumnType.COLUMN_TYPE_DOUBLE)],
            ),
        )
    except modelyard.DuplicateArtifact as err:
        # Same bytes as an earlier run: use that version instead of failing the pipeline.
        return registry.get_version(err.existing_version)


def best_version(registry: Registry, group_id: str) -> ModelVersion | None:
    """Returns the version with the highest AUC, or None if no version has one."""
    ranked: modelyard.Pager[ModelVersion] = registry.list_versions(
        group_id, order_by="metrics.auc desc", page_size=1
    )
    return next(iter(ranked), None)


def describe(version: ModelVersion) -> str:
    stage: modelyard.Stage = version.stage  # an IntEnum: prints as PRODUCTION, == 3
    approval: modelyard.ApprovalStatus = version.approval_status
    auc: float = version.metrics["auc"]
    return f"{version.name}: auc={auc:.3f} {stage} {approval}"


async def recent_changes(group_id: str) -> list[str]:
    """Returns what happened to the group in the last hour, newest first."""
    since = datetime.now(UTC) - timedelta(hours=1)
    async with AsyncRegistry() as registry:
        pager: modelyard.AsyncPager[modelyard.AuditEvent] = await registry.list_audit_events(
            resource=modelyard.group_name(group_id), start_time=since, newest_first=True
        )
        return [
            f"#{event.seq} {event.action} {event.resource} by {event.actor}"
            async for event in pager
        ]


def main(argv: list[str]) -> int:
    group_id = argv[1] if len(argv) > 1 else "fraud-detector"
    with Registry(timeout=10) as registry:
        group = ensure_group(registry, group_id)
        version = register_model(registry, group_id, artifact=b"onnx bytes of " + group_id.encode())
        tagged = registry.set_tag(version.name, None, "validated", "true")
        print(f"group {group.name}; registered {describe(tagged)}")
        best = best_version(registry, group_id)
        if best is not None:
            print(f"best: {describe(best)}")
        check = registry.verify_audit_log()
        if not check.ok:
            print(f"audit log broken at seq {check.first_broken_seq}: {check.problem}")
            return 1
    for line in asyncio.run(recent_changes(group_id)):
        print(line)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except modelyard.ModelyardError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
