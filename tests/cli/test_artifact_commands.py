"""``versions create --path`` and ``download``: the registry holds the files, and they come
back with every digest checked."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.cli import Cli, fields
from tests.support.servers import Server


def test_a_directory_goes_up_with_versions_create_path_and_comes_back_with_download(
    cli: Cli, cli_server: Server, unique_group: str, tmp_path: Path
) -> None:
    model = tmp_path / "saved_model"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(os.urandom(70_000))
    (model / "variables" / "variables.data-00000-of-00001").write_bytes(os.urandom(300_000))
    cli.ok(cli_server, "groups", "create", unique_group)
    created = fields(
        cli.ok(cli_server, "versions", "create", unique_group, "--path", str(model),
               "--format", "saved_model", "--metric", "auc=0.9")
    )  # fmt: skip
    assert (
        created["held"] == "yes, a directory of 2 files, every sha256 checked (modelyard download)"
    )
    assert created["uri"] == f"modelyard:groups/{unique_group}/versions/1"
    assert created["size"] == "370000 bytes"

    cli.ok(cli_server, "alias", "set", unique_group, "champion", "1")
    out = cli.ok(cli_server, "download", unique_group, "champion", str(tmp_path / "copy"))
    assert out.startswith(f"downloaded groups/{unique_group}/aliases/champion to ")
    assert "every sha256 checked" in out
    for file in model.rglob("*"):
        if file.is_file():
            assert (tmp_path / "copy" / file.relative_to(model)).read_bytes() == file.read_bytes()

    # A single file, by number; the destination must be new.
    (tmp_path / "m.onnx").write_bytes(b"onnx bytes")
    cli.ok(cli_server, "versions", "create", unique_group, "--path", str(tmp_path / "m.onnx"))
    cli.ok(cli_server, "download", unique_group, "2", str(tmp_path / "m2.onnx"))
    assert (tmp_path / "m2.onnx").read_bytes() == b"onnx bytes"
    done = cli.run(cli_server, "download", unique_group, "2", str(tmp_path / "m2.onnx"))
    assert done.returncode == 2
    assert done.stderr.strip().endswith("exists; download into a new path")


def test_path_and_a_declared_digest_do_not_mix_and_external_artifacts_do_not_download(
    cli: Cli, cli_server: Server, unique_group: str, tmp_path: Path
) -> None:
    (tmp_path / "m.bin").write_bytes(b"x")
    cli.ok(cli_server, "groups", "create", unique_group)
    mixed = cli.run(
        cli_server, "versions", "create", unique_group, "--path", str(tmp_path / "m.bin"),
        "--sha256", "0" * 64,
    )  # fmt: skip
    assert mixed.returncode == 2
    assert "leave out --uri, --sha256, --size and --file" in mixed.stderr
    cli.ok(
        cli_server, "versions", "create", unique_group, "--uri", "s3://b/k", "--sha256", "1" * 64
    )
    shown = fields(cli.ok(cli_server, "versions", "show", unique_group, "1"))
    assert shown["held"].startswith("no: the registry records the uri")
    refused = cli.run(cli_server, "download", unique_group, "1", str(tmp_path / "x"))
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: ARTIFACT_NOT_HELD: the registry holds only the uri")
    assert len(refused.stderr.strip().splitlines()) == 1
