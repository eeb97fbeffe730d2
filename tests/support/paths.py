"""Where things are: the repository, and the commands installed next to this Python."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The client's command, the server's command and grpcurl, as `make install` installs them.
CLI = BIN / "modelyard"
SERVER_BIN = BIN / "modelyard-server"
GRPCURL = BIN / "grpcurl"
