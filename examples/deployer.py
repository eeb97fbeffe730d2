"""A reference deployer: keeps a serving directory in sync with the production version of
the groups it watches, and survives restarts.

::

    python examples/deployer.py --serving-dir /srv/models fraud churn

For each group it keeps ``GROUP/v{N}/`` with a ``manifest.json`` (the version's name,
artifact URI, digest, format and image) and ``GROUP/live``, a symlink to the version in
production, swapped atomically. An artifact the registry holds is downloaded through it
(``v{N}/artifact``, every sha256 checked before ``live`` moves); a ``file://`` artifact is
copied in and checked against its sha256; any other URI is left to the serving runtime,
through the manifest. When the new version is live, the old one is
retired. Without a production version, ``live`` is removed.

It does not act on what an event says, but on the registry's state when the event comes
(a version was promoted, rolled back, rejected): it asks which version is in production now,
so a replayed or stale event can only cause a harmless re-check. Its cursor is saved after
each event, so a restarted deployer resumes where it stopped and misses nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import modelyard
from modelyard import ModelVersion, Registry

log = logging.getLogger("deployer")

# The events after which the production version of a group may have changed.
TRIGGERS = ["STAGE_CHANGED", "ROLLED_BACK", "APPROVAL_CHANGED", "MODEL_GROUP_DELETED"]


def run(registry: Registry, root: Path, groups: list[str]) -> None:
    """Syncs every group, then each group an event names, until the watch is closed."""
    cursor_file = root / ".cursor"
    saved = int(cursor_file.read_text()) if cursor_file.exists() else None
    with registry.watch(groups=groups, actions=TRIGGERS, start_after=saved) as events:
        for group in groups:  # what changed before the watch started
            sync(registry, root / group, group)
        for event in events:
            group = event.group.removeprefix("groups/")  # its directory is named by the id
            sync(registry, root / group, group)
            write_atomically(cursor_file, f"{events.cursor}\n".encode())


def sync(registry: Registry, group_dir: Path, group: str) -> None:
    """Makes `group_dir/live` the production version of the group, then retires the others."""
    try:
        version = registry.production(group)
    except modelyard.ModelGroupNotFound:
        version = None
    live = group_dir / "live"
    if version is None:
        live.unlink(missing_ok=True)
        keep = None
    else:
        keep = f"v{version.version}"
        if not (group_dir / keep).is_dir():
            try:
                materialize(registry, version, group_dir / keep)
            except (OSError, ValueError, modelyard.ModelyardError) as error:  # the live one stays
                log.error("%s: cannot deploy %s: %s", group, version.name, error)
                return
        if not live.is_symlink() or os.readlink(live) != keep:
            point(live, keep)
            log.info("%s: %s is live", group, version.name)
    for old in group_dir.glob("v*"):
        if old.name != keep:
            shutil.rmtree(old)
            log.info("%s: retired %s", group, old.name)


def materialize(registry: Registry, version: ModelVersion, target: Path) -> None:
    """Writes the version's directory: its manifest, and its artifact when the registry holds
    it (downloaded, every digest checked) or it is a local file (copied and checked)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=target.parent, prefix=".building-"))
    building.chmod(0o755)  # readable by the serving runtime, like any directory
    artifact = version.artifact
    manifest = {
        "name": version.name,
        "uri": artifact.uri,
        "sha256": artifact.sha256,
        "format": artifact.format.name,
        "inference_image": version.inference_image,
        "local_file": None,
    }
    parts = urlsplit(artifact.uri)
    if artifact.held:
        try:  # a file, or a directory for a directory artifact; checked before it is used
            registry.download(version.name, dest=building / "artifact")
        except BaseException:
            shutil.rmtree(building)
            raise
        manifest["local_file"] = "artifact"
    elif parts.scheme == "file":
        source = Path(unquote(parts.path))
        copy = building / source.name
        try:
            shutil.copyfile(source, copy)
            with copy.open("rb") as copied:
                if hashlib.file_digest(copied, "sha256").hexdigest() != artifact.sha256:
                    raise ValueError(f"{artifact.uri} does not match its registered sha256")
        except BaseException:
            shutil.rmtree(building)
            raise
        manifest["local_file"] = copy.name
    (building / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(building, target)


def point(link: Path, target: str) -> None:
    """Points `link` at `target` (a sibling), atomically: readers see the old or the new."""
    temporary = link.with_name(f".{link.name}.new")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target)
    os.replace(temporary, link)


def write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.new")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="+", help="the groups to serve")
    parser.add_argument("--serving-dir", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args.serving_dir.mkdir(parents=True, exist_ok=True)
    with Registry() as registry, contextlib.suppress(KeyboardInterrupt):
        run(registry, args.serving_dir, args.groups)  # address and token from the environment


if __name__ == "__main__":
    main()
