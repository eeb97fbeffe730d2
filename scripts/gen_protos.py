"""Regenerates modelyard/v1 (messages, .pyi stubs, typed grpc stubs, descriptor set) from protos/.

Usage: python scripts/gen_protos.py OUT_DIR   (the repository uses client/src)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from google.api import field_behavior_pb2

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
PACKAGE = Path("modelyard") / "v1"
DESCRIPTOR_SET = "descriptor_set.binpb"
INIT = '"""Generated from protos/modelyard/v1 by `make proto`. Do not edit."""\n'


def googleapis_root() -> Path:
    """Returns the directory holding google/api/*.proto: googleapis-common-protos installs the
    sources beside the modules generated from them, which the generated code imports."""
    root = Path(field_behavior_pb2.__file__).resolve().parents[2]
    if not (root / "google" / "api" / "resource.proto").is_file():
        sys.exit(f"no google/api/*.proto under {root}: reinstall googleapis-common-protos")
    return root


def generate(out_dir: Path) -> None:
    """Writes the generated package under out_dir/modelyard/v1, replacing what was there."""
    out_dir = out_dir.resolve()
    bin_dir = Path(sys.executable).parent
    target = out_dir / PACKAGE
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PACKAGE).glob("*.proto"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"--proto_path={PROTO_ROOT}",
            f"--proto_path={googleapis_root()}",
            f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
            f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            f"--mypy_out={out_dir}",
            f"--mypy_grpc_out={out_dir}",
            # With comments, so that grpcurl `describe` through reflection shows them.
            f"--descriptor_set_out={target / DESCRIPTOR_SET}",
            "--include_source_info",
            "--include_imports",
            *protos,
        ],
        check=True,
        cwd=PROTO_ROOT,
    )
    (target / "__init__.py").write_text(INIT)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    generate(Path(sys.argv[1]))
