"""``modelyard download``: a version's artifact, held by the registry, to a local path."""

from __future__ import annotations

from pathlib import Path

from modelyard.cli.options import Commands, Invocation, add_command
from modelyard.cli.progress import TransferProgress, human_bytes
from modelyard.names import version_or_alias_name

__all__ = ["add_commands"]


def download(run: Invocation) -> None:
    args = run.args
    *refs, dest = args.target
    if len(refs) > 1:
        raise ValueError("give GROUP VERSION|ALIAS DEST, or a version's name and DEST")
    name = version_or_alias_name(args.group, refs[0] if refs else None)
    progress = TransferProgress(f"downloading {name}")
    try:
        path = run.registry.download(name, dest=Path(dest), direct=args.direct, progress=progress)
    finally:
        progress.done()
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    run.output.text(f"downloaded {name} to {path} ({human_bytes(size)}, every sha256 checked)")


def add_commands(commands: Commands) -> None:
    """Adds ``download``."""
    p = add_command(
        commands,
        "download",
        help="download a version's artifact held by the registry, checking every digest",
    )
    p.add_argument("group", help="group id, or a name like groups/fraud/versions/3")
    p.add_argument(
        "target",
        nargs="+",
        metavar="[VERSION|ALIAS] DEST",
        help="a version number, 'latest' or an alias, then the new path to write",
    )
    p.add_argument(
        "--direct",
        action="store_true",
        help="fetch the files straight from the blob store (S3) by short-lived URLs, "
        "checked the same way; through the registry where the store gives none",
    )
    p.set_defaults(handler=download)
