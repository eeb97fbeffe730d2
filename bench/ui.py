"""The web UI's stage of `make bench`: how long its pages take to render on a big group.

Seeds one group of 100,000 versions through the server's bulk import, starts
`modelyard-server serve --http-address`, signs in through the sign-in form as a browser
does, and times, one request after another over one keep-alive connection:

- the group's page: the newest 100 versions of the 100,000 (its first page), with the
  counts by stage and the production versions;
- the group's page filtered by a tag (`tags.team = "risk"`);
- a version's page (a version chosen at random each time), with its decisions, timeline
  and controls.

The time is the whole HTTP request, rendered HTML included. Writes bench/results/ui.json
and the table between the markers in bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from benchlib import Result, log, measure_sequential
from million import seed_by_import
from procs import Server, free_port, grpc_serving
from run import RESULTS, modelyard_argv

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
TABLE_START = "<!-- ui-table-start -->"
TABLE_END = "<!-- ui-table-end -->"
GROUP = "ui-100k"


class Browser:
    """One keep-alive HTTP connection with the session cookie, as a browser holds it."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""

    def request(self, method: str, path: str, body: str = "") -> tuple[int, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body or None, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode()
        cookie = response.getheader("set-cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, text

    def sign_in(self, token: str) -> None:
        status, page = self.request("GET", "/signin")
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert status == 200 and found, f"no sign-in form ({status})"
        form = urlencode({"csrf": found.group(1), "token": token, "next": "/groups"})
        status, _ = self.request("POST", "/signin", form)
        assert status == 303, f"sign-in refused ({status})"

    def page(self, path: str) -> int:
        status, text = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        return len(text)


def measure(port: int, token: str, size: int, n: int) -> dict[str, Result]:
    browser = Browser(port)
    browser.sign_in(token)
    out: dict[str, Result] = {}
    group_page = f"/groups/{GROUP}"
    rows = browser.page(group_page)
    assert browser.request("GET", group_page)[1].count('name="v"') == 100, "not 100 rows"
    log(f"group page: 100 of {size:,} versions ({rows:,} bytes of HTML)")
    out["group_page"] = measure_sequential(lambda i: browser.page(group_page), n, warmup=20)
    filtered = group_page + "?filter=" + quote('tags.team = "risk"')
    log("group page filtered by a tag")
    out["group_page_filtered"] = measure_sequential(lambda i: browser.page(filtered), n, warmup=20)
    pick = random.Random(13)
    log("version page")
    out["version_page"] = measure_sequential(
        lambda i: browser.page(f"{group_page}/versions/{pick.randint(1, size)}"), n, warmup=20
    )
    return out


def table(report: dict[str, Any]) -> str:
    size = report["size"]
    names = {
        "group_page": f"group page: newest 100 of {size:,} versions",
        "group_page_filtered": f'group page: 100 of {size:,} filtered by `tags.team = "risk"`',
        "version_page": f"version page (one of {size:,}, at random)",
    }
    lines = [
        "| page | pages/s | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    for key, label in names.items():
        r = report["pages"][key]
        lines.append(f"| {label} | {r['ops_per_s']:,.1f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")
    return "\n".join(lines)


def update_readme(text_table: str, report: dict[str, Any]) -> None:
    text = README.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        return
    before, rest = text.split(TABLE_START, 1)
    _, after = rest.split(TABLE_END, 1)
    stamp = (
        f"Run {report['finished']} (load average before: {report['loadavg_before']}): "
        f"{report['size']:,} versions imported in "
        f"{report['seed_seconds']} s; {report['n']} requests per page, one after another."
    )
    README.write_text(f"{before}{TABLE_START}\n{stamp}\n\n{text_table}\n{TABLE_END}{after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="versions in the group")
    parser.add_argument("--n", type=int, default=300, help="requests per page")
    parser.add_argument("--out", type=Path, default=RESULTS / "ui.json")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md as it is")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="modelyard-ui-"))
    data_dir = workdir / "modelyard-data"
    port, http_port = free_port(), free_port()
    address = f"127.0.0.1:{port}"
    serve = [*modelyard_argv(address, data_dir), "--http-address", f"127.0.0.1:{http_port}"]
    base = serve[: serve.index("serve")]
    report: dict[str, Any] = {"size": args.size, "n": args.n}
    report["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
    started = time.monotonic()
    try:
        subprocess.run([*base, "migrate"], check=True, capture_output=True)
        report["seed_seconds"] = seed_by_import(base, workdir, GROUP, args.size)
        server = Server("modelyard-server", serve, workdir / "modelyard-server.log")
        try:
            token_file = data_dir / "admin.token"
            server.wait_ready(grpc_serving(address, also=token_file.exists), timeout_s=300)
            report["pages"] = measure(http_port, token_file.read_text().strip(), args.size, args.n)
            report["server_rss_mb"] = server.rss_mb()
        finally:
            server.stop()
        report["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        rendered = table(report)
        print(rendered)
        if not args.no_readme:
            update_readme(rendered, report)
    finally:
        report["seconds"] = round(time.monotonic() - started, 1)
        shutil.rmtree(workdir, ignore_errors=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
