"""The UI's server side without a browser: its statements on PostgreSQL, and its address.

Apart from tests/e2e/test_ui.py: playwright's sync API keeps an event loop running in the
test's thread while that module's browser is open.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import subprocess
from contextlib import closing
from pathlib import Path
from urllib.parse import urlencode

import pytest
from modelyard import Registry

from tests.support.factory import ServerFactory
from tests.support.paths import SERVER_BIN

GROUP = "fraud"


@pytest.mark.postgres
def test_a_group_page_counts_stages_on_postgresql(server_factory: ServerFactory) -> None:
    """The UI's only statement of its own (capped stage counts) on the other database."""
    with server_factory("postgres", http_address="127.0.0.1:0") as server:
        with Registry(server.address, token=server.token) as admin:
            admin.create_group(GROUP)
            for n in range(3):
                admin.register(
                    GROUP, uri=f"s3://m/{n}", sha256=hashlib.sha256(bytes([n])).hexdigest()
                )
            admin.transition(GROUP, 1, "staging")
        pages = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
        with closing(pages):
            pages.request("GET", "/signin")
            answer = pages.getresponse()
            cookie = (answer.getheader("set-cookie") or "").split(";", 1)[0]
            found = re.search(r'name="csrf" value="([^"]+)"', answer.read().decode())
            assert found
            form = urlencode({"csrf": found.group(1), "token": server.token, "next": "/groups"})
            headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
            pages.request("POST", "/signin", body=form, headers=headers)
            answer = pages.getresponse()
            answer.read()
            assert answer.status == 303
            cookie = (answer.getheader("set-cookie") or "").split(";", 1)[0]
            pages.request("GET", f"/groups/{GROUP}", headers={"Cookie": cookie})
            answer = pages.getresponse()
            text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", answer.read().decode()))
            assert answer.status == 200
            assert "none 2 staging 1 production 0 archived 0" in text


def test_a_busy_http_address_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
        serve = [str(SERVER_BIN), "--data-dir", str(tmp_path / "data"), "serve"]
        done = subprocess.run(
            [*serve, "--address", "127.0.0.1:0", "--http-address", busy],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"error: cannot listen for the web UI on {busy}: address already in use; choose "
        "another --http-address (MODELYARD_HTTP_ADDRESS), or leave it empty for no UI"
    )
