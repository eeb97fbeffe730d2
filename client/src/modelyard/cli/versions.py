"""``modelyard versions list|show|compare|create|update|delete``."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from modelyard.cli.compare import add_compare
from modelyard.cli.options import (
    Commands,
    Invocation,
    add_command,
    add_family,
    add_force,
    add_limit,
    add_request_id,
    add_version_arguments,
    choice,
    key_value,
    key_values,
    metric,
    named_version,
    positive_int,
)
from modelyard.cli.output import enum_label, format_time, proto
from modelyard.cli.progress import TransferProgress
from modelyard.names import group_name, split_alias_name, split_version_name
from modelyard.v1.resources_pb2 import (
    ApprovalStatus,
    Artifact,
    ArtifactFormat,
    Lineage,
    ModelVersion,
    Stage,
)

__all__ = ["add_commands", "version_fields"]

HEADERS = ("GROUP", "VERSION", "STAGE", "APPROVAL", "FORMAT", "METRICS", "CREATED_BY", "CREATED")
FORMATS = [
    enum_label(n, "ARTIFACT_FORMAT_").lower()
    for n in ArtifactFormat.keys()  # noqa: SIM118 - an EnumTypeWrapper is not a dict
    if not n.endswith("_UNSPECIFIED")
]


def _stage(version: ModelVersion) -> str:
    return enum_label(Stage.Name(version.stage), "STAGE_")


def _approval(version: ModelVersion) -> str:
    return enum_label(ApprovalStatus.Name(version.approval_status), "APPROVAL_STATUS_")


def _format(version: ModelVersion) -> str:
    return enum_label(ArtifactFormat.Name(version.artifact.format), "ARTIFACT_FORMAT_").lower()


def _pairs(values: dict[str, str] | dict[str, float]) -> str:
    return ",".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(values.items())
    )


def _row(version: ModelVersion) -> tuple[str, ...]:
    group, number = split_version_name(version.name)
    return (
        group,
        number,
        _stage(version),
        _approval(version),
        _format(version),
        _pairs(dict(version.metrics)),
        version.created_by,
        format_time(version.create_time),
    )


def _held(artifact: Artifact) -> str:
    if not artifact.held:
        return "no: the registry records the uri and sha256 it was given"
    kind = f"a directory of {artifact.file_count} files" if artifact.directory else "one file"
    return f"yes, {kind}, every sha256 checked (modelyard download)"


def version_fields(version: ModelVersion) -> list[tuple[str, str]]:
    """Returns the ``label: value`` lines of ``versions show``."""
    artifact = version.artifact
    lineage = version.lineage
    fields = [
        ("name", version.name),
        ("stage", _stage(version)),
        ("approval", _approval(version)),
        ("aliases", ",".join(split_alias_name(a)[1] for a in version.aliases)),
        ("approvers", ",".join(version.approvers)),
        ("uri", artifact.uri),
        ("sha256", artifact.sha256),
        ("size", f"{artifact.size_bytes} bytes"),
        ("held", _held(artifact)),
        ("format", _format(version)),
        ("framework", " ".join(p for p in (artifact.framework, artifact.framework_version) if p)),
        ("inference image", version.inference_image),
        ("metrics", _pairs(dict(version.metrics))),
        ("hyperparameters", _pairs(dict(version.hyperparameters))),
        ("tags", _pairs(dict(version.tags))),
        ("description", version.description),
    ]
    if version.HasField("lineage"):
        fields += [
            ("code", " @ ".join(p for p in (lineage.code_repository, lineage.code_commit) if p)),
            ("dataset", " @ ".join(p for p in (lineage.dataset_uri, lineage.dataset_digest) if p)),
            ("training job", lineage.training_job),
            ("parents", ",".join(lineage.parent_versions)),
            ("depends on", ",".join(lineage.depends_on)),
        ]
    if version.HasField("model_card"):
        card = version.model_card
        fields += [
            ("intended use", card.intended_use),
            ("limitations", card.limitations),
            ("training data", card.training_data),
        ]
    if version.HasField("schema"):
        fields += [
            ("inputs", ",".join(c.name for c in version.schema.inputs)),
            ("outputs", ",".join(c.name for c in version.schema.outputs)),
        ]
    fields += [
        ("created by", version.created_by),
        ("created", format_time(version.create_time)),
        ("updated", format_time(version.update_time)),
        ("etag", version.etag),
    ]
    return [(label, value) for label, value in fields if value or label in ("name", "stage")]


def list_versions(run: Invocation) -> None:
    pager = run.registry.list_versions(
        run.args.group,
        filter=run.args.filter,
        order_by=run.args.order_by,
        page_size=run.page_size(),
    )
    where = "in every group" if run.args.group == "-" else f"in {group_name(run.args.group)}"
    matching = " match the filter" if run.args.filter else ""
    run.output.listing(
        HEADERS,
        ((v, _row(v)) for v in (proto(v) for v in run.limited(pager))),
        empty=f"no versions {where}{matching}",
        cut=("METRICS",),
    )


def show_version(run: Invocation) -> None:
    version = proto(run.registry.get_version(named_version(run.args)))
    run.output.message(version, version_fields(version))


def artifact_of(
    uri: str | None, sha256: str | None, size: int | None, file: Path | None
) -> tuple[str, str, int]:
    """Returns the artifact's ``(uri, sha256, size)``: as given, or computed from ``file``
    (whose uri is then ``file://`` its absolute path unless one is given)."""
    if file is None:
        if not uri or not sha256:
            raise ValueError(
                "give the artifact's --uri and --sha256, or --file PATH to compute its sha256 "
                "and size"
            )
        return uri, sha256, size or 0
    try:
        with file.open("rb") as artifact:
            digest = hashlib.file_digest(artifact, "sha256").hexdigest()
            actual = os.fstat(artifact.fileno()).st_size
    except OSError as error:
        raise ValueError(f"cannot read --file {file}: {error.strerror}") from None
    if sha256 and sha256.lower() != digest:
        raise ValueError(f"--sha256 {sha256} is not the sha256 of {file}, which is {digest}")
    if size is not None and size != actual:
        raise ValueError(f"--size {size} is not the size of {file}, which is {actual} bytes")
    return uri or file.resolve().as_uri(), digest, actual


def create_version(run: Invocation) -> None:
    args = run.args
    held = args.path is not None
    if held and (args.uri or args.sha256 or args.size is not None or args.file):
        raise ValueError(
            "--path uploads the artifact to the registry, which computes its digest: "
            "leave out --uri, --sha256, --size and --file"
        )
    uri, sha256, size = (
        ("", "", 0) if held else artifact_of(args.uri, args.sha256, args.size, args.file)
    )
    progress = TransferProgress(f"uploading {args.path}")
    try:
        created = run.registry.register(
            args.group,
            path=args.path,
            uri=uri,
            sha256=sha256,
            size_bytes=size,
            progress=progress if held else None,
            format=args.format,
            framework=args.framework,
            framework_version=args.framework_version,
            metrics=key_values(args.metric),
            hyperparameters=key_values(args.param),
            tags=key_values(args.tag),
            description=args.description,
            inference_image=args.inference_image,
            lineage=Lineage(depends_on=args.depends_on) if args.depends_on else None,
            request_id=args.request_id,
        )
    finally:
        progress.done()
    version = proto(created)
    run.output.message(version, version_fields(version))


def update_version(run: Invocation) -> None:
    args = run.args
    if args.description is None and not args.tag and not args.remove_tag:
        raise ValueError("nothing to update: give --description, --tag or --remove-tag")
    changed = ModelVersion(name=named_version(args), etag=args.etag)
    mask: list[str] = []
    if args.description is not None:
        changed.description = args.description
        mask.append("description")
    # One mask path per tag changes that tag alone; a path whose key is absent removes it.
    for key, value in args.tag or ():
        changed.tags[key] = value
        mask.append(f"tags.{key}")
    mask += [f"tags.{key}" for key in args.remove_tag or ()]
    version = proto(
        run.registry.update_version(changed, update_mask=mask, request_id=args.request_id)
    )
    run.output.message(version, version_fields(version))


def delete_version(run: Invocation) -> None:
    name = named_version(run.args)
    run.registry.delete_version(
        name,
        etag=run.args.etag,
        force=run.args.force,
        reason=run.args.reason,
        request_id=run.args.request_id,
    )
    run.output.text(f"deleted {name}")


def add_commands(commands: Commands) -> None:
    """Adds the ``versions`` command family."""
    sub = add_family(
        commands,
        "versions",
        help="model versions",
        description="List, show, compare, register, update and delete model versions.",
    )

    p = add_command(sub, "list", help="list versions, newest first")
    p.add_argument("group", nargs="?", default="-", help="group id (default: every group)")
    p.add_argument("--filter", default="", help="e.g. 'stage = PRODUCTION AND metrics.auc > 0.9'")
    p.add_argument("--order-by", default="", help="e.g. 'metrics.auc desc' (default: version desc)")
    add_limit(p, "versions")
    p.set_defaults(handler=list_versions)

    p = add_command(sub, "show", help="show one version")
    add_version_arguments(p)
    p.set_defaults(handler=show_version)

    add_compare(sub)

    p = add_command(sub, "create", help="register a new version of a model")
    p.add_argument("group", help="group id, e.g. fraud")
    p.add_argument(
        "--uri",
        default=None,
        help="where the artifact is, e.g. s3://bucket/key (with --file: default file://PATH)",
    )
    p.add_argument(
        "--file",
        type=Path,
        default=None,
        metavar="PATH",
        help="a local copy of the artifact: its sha256 and size are computed",
    )
    p.add_argument(
        "--path",
        type=Path,
        default=None,
        metavar="PATH",
        help="a file or directory to upload: the registry holds it and checks every digest",
    )
    p.add_argument("--sha256", default=None, help="SHA-256 of the artifact, 64 hex digits")
    p.add_argument("--size", type=positive_int, default=None, help="artifact size in bytes")
    p.add_argument(
        "--format",
        type=choice(FORMATS, "ARTIFACT_FORMAT_", "an artifact format"),
        default="other",
        help=f"artifact format, any case: {', '.join(FORMATS)}",
    )
    p.add_argument("--framework", default="", help="e.g. sklearn")
    p.add_argument("--framework-version", default="", help="e.g. 1.5.2")
    p.add_argument("--inference-image", default="", help="container image that serves it")
    p.add_argument("--metric", action="append", type=metric, metavar="NAME=NUMBER")
    p.add_argument(
        "--param", action="append", type=key_value, metavar="NAME=VALUE", help="a hyperparameter"
    )
    p.add_argument("--tag", action="append", type=key_value, metavar="KEY=VALUE")
    p.add_argument("--description", default="")
    p.add_argument(
        "--depends-on",
        action="append",
        metavar="VERSION",
        help="a version it needs at inference time, e.g. groups/encoder/versions/3 (repeat)",
    )
    add_request_id(p)
    p.set_defaults(handler=create_version)

    p = add_command(sub, "update", help="change a version's description or tags")
    add_version_arguments(p)
    p.add_argument("--description", default=None)
    p.add_argument("--tag", action="append", type=key_value, metavar="KEY=VALUE", help="set a tag")
    p.add_argument("--remove-tag", action="append", metavar="KEY", help="remove a tag")
    p.add_argument("--etag", default="", help="fail if the version changed since this etag")
    add_request_id(p)
    p.set_defaults(handler=update_version)

    p = add_command(sub, "delete", help="delete a version (its number is never reused)")
    add_version_arguments(p)
    p.add_argument("--etag", default="", help="fail if the version changed since this etag")
    add_force(p, "delete")
    add_request_id(p)
    p.set_defaults(handler=delete_version)
