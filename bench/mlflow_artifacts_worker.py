"""MLflow's side of bench/artifacts.py: its artifact proxy (`mlflow server
--serve-artifacts`) through MlflowClient, run with bench/.venv-mlflow's python. Prints one
JSON object: seconds per operation.

Usage: python mlflow_artifacts_worker.py URI FILE DIR OUT_DIR
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from mlflow.tracking import MlflowClient


def timed(action):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main(uri: str, file: Path, directory: Path, out: Path) -> None:
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment(f"artifacts-{time.time_ns()}")
    run = client.create_run(experiment).info.run_id
    again = client.create_run(experiment).info.run_id
    result = {
        "upload_file": timed(lambda: client.log_artifact(run, str(file), "file")),
        "download_file": timed(lambda: client.download_artifacts(run, "file", str(out / "f"))),
        "upload_dir": timed(lambda: client.log_artifacts(run, str(directory), "dir")),
        "download_dir": timed(lambda: client.download_artifacts(run, "dir", str(out / "d"))),
        # The same directory for a new version: MLflow sends every byte again.
        "reupload_dir": timed(lambda: client.log_artifacts(again, str(directory), "dir")),
    }
    downloaded = (out / "f" / "file" / file.name).stat().st_size
    if downloaded != file.stat().st_size:
        raise SystemExit(f"MLflow returned {downloaded} bytes of {file.stat().st_size}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
