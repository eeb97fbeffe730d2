"""The web UI in a real Chromium: two people walk the governance cycle through the pages.

One server (with its UI on a loopback port) and one browser serve the whole module; each
person has a browser context of their own (their own cookies). Screenshots of the main
pages are kept in test-output/ui/.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from modelyard import Registry, Stage
from modelyard.v1 import resources_pb2 as pb
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.support.browser import chromium_or_skip, screenshot_dir
from tests.support.factory import ServerFactory
from tests.support.servers import Server

pytestmark = pytest.mark.timeout(180)

GROUP = "fraud"


@dataclass
class Site:
    """The server under test, its UI's address, and a token per person."""

    server: Server
    url: str
    tokens: dict[str, str]
    shots: Path


@pytest.fixture(scope="module")
def site(server_factory: ServerFactory) -> Iterator[Site]:
    chromium_or_skip()
    with server_factory("sqlite", http_address="127.0.0.1:0") as server:
        tokens = {
            "rita": server.mint_token("rita", "contributor", "approver"),
            "ava": server.mint_token("ava", "approver", "deployer"),
            "vic": server.mint_token("vic", "viewer"),
        }
        with Registry(server.address, token=tokens["rita"]) as rita:
            rita.create_group(GROUP, description="Card fraud scores")
            schema = pb.ModelSchema(inputs=[pb.ColumnSpec(name="amount", type=pb.COLUMN_TYPE_LONG)])
            for n, (auc, loss) in enumerate([(0.91, 0.30), (0.95, 0.35)], start=1):
                if n == 2:
                    schema.inputs.add(name="merchant", type=pb.COLUMN_TYPE_INTEGER)
                rita.register(
                    GROUP,
                    uri=f"s3://models/fraud/{n}.onnx",
                    sha256=hashlib.sha256(f"model-{n}".encode()).hexdigest(),
                    format="onnx",
                    metrics={"auc": auc, "val_loss": loss},
                    hyperparameters={"depth": str(4 + n)},
                    tags={"team": "risk"},
                    schema=schema,
                )
        yield Site(server, f"http://127.0.0.1:{server.http_port}", tokens, screenshot_dir())


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_or_skip(), args=["--no-sandbox"]
        )
        yield launched
        launched.close()


def person(browser: Browser, site: Site, who: str) -> BrowserContext:
    """Returns a browser context signed in as `who`, through the sign-in form."""
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/groups")
    expect(page).to_have_url(re.compile(r"/signin\?next=/groups"))
    page.get_by_label("Token").fill(site.tokens[who])
    page.get_by_label("Token").press("Enter")  # the keyboard is enough
    expect(page.get_by_test_id("subject")).to_have_text(who)
    page.close()
    return context


def audit_rows(page: Page) -> list[str]:
    return page.locator("table.audit tbody tr").all_inner_texts()


def test_two_people_walk_the_governance_cycle(browser: Browser, site: Site) -> None:
    shots = site.shots
    rita = person(browser, site, "rita")
    ava = person(browser, site, "ava")
    cookie = next(c for c in rita.cookies() if c["name"] == "modelyard_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # The registrant finds a version by filter; a bad filter is explained inline.
    page = rita.new_page()
    page.goto("/groups")
    expect(page.get_by_role("link", name=GROUP, exact=True)).to_be_visible()
    page.screenshot(path=shots / "groups.png", full_page=True)
    page.get_by_label("Search").fill("zzz")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("main")).to_contain_text("No group matches")
    page.get_by_label("Search").fill("fra")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=GROUP, exact=True).click()
    page.get_by_label("Filter").fill("metrics.auc >")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("alert")).to_contain_text("filter")
    page.get_by_label("Filter").fill("metrics.auc > 0.93")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("table.versions tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("v2")

    # She compares the two versions: the better auc is marked, the schema change shown.
    page.get_by_label("Filter").fill("")
    page.get_by_role("button", name="Apply").click()
    page.screenshot(path=shots / "group.png", full_page=True)
    # Sorted by a metric: best first, then the other way.
    page.locator("thead a", has_text="val_loss").click()
    expect(rows.first).to_contain_text("v2")
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("val_loss")
    page.locator("thead a", has_text="val_loss").click()
    expect(rows.first).to_contain_text("v1")
    page.get_by_label("Compare version 1").check()
    page.get_by_label("Compare version 2").check()
    page.get_by_role("button", name="Compare selected").click()
    auc = page.locator("table.compare tr", has_text="metrics.auc")
    expect(auc.locator("td.best")).to_have_text(re.compile(r"0\.95"))
    loss = page.locator("table.compare tr", has_text="metrics.val_loss")
    expect(loss.locator("td.best")).to_have_text(re.compile(r"0\.3\b"))
    expect(page.locator(".changes")).to_contain_text("merchant")
    page.screenshot(path=shots / "compare.png", full_page=True)

    # Her own version: the approve control says why she may not, before any click.
    page.goto(f"/groups/{GROUP}/versions/2")
    expect(page.locator("#actions")).to_contain_text("forbids self-approval")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Promote to production")).to_be_disabled()

    # She keeps the group and the audit log open while the approver acts.
    watching = page
    watching.goto(f"/groups/{GROUP}")
    log = rita.new_page()
    log.goto("/audit")
    for live in (watching, log):
        expect(live.locator("body[data-live-open]")).to_have_count(1)

    act = ava.new_page()

    def govern(version: int, button: str, reason: str) -> None:
        act.goto(f"/groups/{GROUP}/versions/{version}")
        form = act.locator("form", has=act.get_by_role("button", name=button))
        form.get_by_label("Reason").first.fill(reason)
        form.get_by_role("button", name=button).click()
        expect(act.get_by_role("status")).to_contain_text("Done")

    # Production needs an approved version: the control says so before the approval.
    act.goto(f"/groups/{GROUP}/versions/1")
    expect(act.get_by_role("button", name="Promote to production")).to_be_disabled()
    expect(act.locator("#why-PRODUCTION")).to_contain_text("cannot move from NONE")
    govern(1, "Approve", "offline eval passed")
    govern(1, "Move to staging", "canary")
    govern(1, "Promote to production", "first release")
    expect(watching.locator("#summary")).to_contain_text("v1")
    govern(2, "Approve", "better auc")
    govern(2, "Move to staging", "canary 2")
    act.screenshot(path=shots / "version.png", full_page=True)
    govern(2, "Promote to production", "release 2")

    # The watching page follows without a reload: v2 serves, v1 is archived.
    production = watching.locator("#summary dd").first
    expect(production).to_have_text("v2")
    expect(log.locator("table.audit tbody tr").first).to_contain_text("release 2")

    # Roll back from the group page.
    act.goto(f"/groups/{GROUP}")
    act.get_by_label("Reason", exact=True).fill("v2 misbehaves")
    act.get_by_role("button", name="Roll back").click()
    expect(act.get_by_role("status")).to_contain_text("rolled back")
    expect(production).to_have_text("v1")
    expect(log.locator("table.audit tbody tr").first).to_contain_text("v2 misbehaves")

    # Aliases: set on the group page, seen live on the watching page, deleted again.
    act.get_by_label("Alias", exact=True).fill("champion")
    act.get_by_label("points at version").fill("1")
    act.get_by_role("button", name="Set alias").click()
    expect(act.get_by_role("status")).to_contain_text("alias set")
    expect(watching.locator("#alias-list")).to_contain_text("champion → v1")
    watching.screenshot(path=shots / "group-live.png", full_page=True)
    act.get_by_role("button", name="Delete alias champion").click()
    expect(act.get_by_role("status")).to_contain_text("alias deleted")
    expect(watching.locator("#alias-list")).to_contain_text("No aliases")

    # Each step is in the audit log, with who did it and why.
    log.reload()
    text = "\n".join(audit_rows(log))
    for step in ("offline eval passed", "first release", "better auc", "release 2"):
        assert step in text
    assert re.search(r"ava\s+rolled back", text)
    log.get_by_role("button", name="Verify the chain").click()
    expect(log.locator(".ok")).to_contain_text("the chain is intact")
    log.screenshot(path=shots / "audit.png", full_page=True)
    log.get_by_label("Actor").fill("ava")
    log.get_by_label("Action").select_option("ROLLED_BACK")
    log.get_by_role("button", name="Filter").click()
    expect(log.locator("table.audit tbody tr")).to_have_count(1)
    log.goto("/audit?since=2999-01-01")
    expect(log.locator("main")).to_contain_text("No entries match")

    # What the pages showed is what the API says.
    with Registry(site.server.address, token=site.tokens["vic"]) as registry:
        assert registry.get_version(GROUP, 1).stage == Stage.PRODUCTION
        assert registry.get_version(GROUP, 2).stage == Stage.ARCHIVED
    rita.close()
    ava.close()


def test_a_viewer_sees_no_action_controls(browser: Browser, site: Site) -> None:
    vic = person(browser, site, "vic")
    page = vic.new_page()
    page.goto(f"/groups/{GROUP}/versions/latest")
    expect(page.locator("h1")).to_contain_text("v2")
    expect(page.locator("#actions")).to_have_count(0)
    expect(page.locator("form.action")).to_have_count(0)
    page.goto(f"/groups/{GROUP}")
    expect(page.locator("form.action")).to_have_count(0)
    expect(page.get_by_role("button", name="Roll back")).to_have_count(0)
    # The first Tab offers the way past the navigation.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    # On a phone's width the pages still read.
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=site.shots / "group-phone.png", full_page=True)
    page.goto(f"/groups/{GROUP}/versions/2")
    page.screenshot(path=site.shots / "version-phone.png", full_page=True)
    vic.close()


def test_a_form_post_without_its_csrf_token_is_refused(browser: Browser, site: Site) -> None:
    ava = person(browser, site, "ava")
    page = ava.new_page()
    page.goto(f"/groups/{GROUP}")
    url = f"/groups/{GROUP}/rollback"
    refused = page.request.post(url, form={"reason": "forged"}, max_redirects=0)
    assert refused.status == 403
    assert "CSRF" in refused.text()
    forged = page.request.post(url, form={"reason": "forged", "csrf": "x" * 43}, max_redirects=0)
    assert forged.status == 403
    with Registry(site.server.address, token=site.tokens["vic"]) as registry:
        assert not [e for e in registry.list_audit_events(actor="ava") if e.reason == "forged"]
    ava.close()


def test_a_form_the_page_did_not_offer_is_refused_as_the_api_refuses_it(
    browser: Browser, site: Site
) -> None:
    rita = person(browser, site, "rita")  # an approver, not a deployer
    page = rita.new_page()
    page.goto(f"/groups/{GROUP}")
    expect(page.get_by_role("button", name="Roll back")).to_have_count(0)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    assert csrf
    sent = page.request.post(
        f"/groups/{GROUP}/rollback", form={"reason": "sneaky", "csrf": csrf}, max_redirects=0
    )
    assert sent.status == 403
    assert "may not roll back production" in sent.text()
    assert "Traceback" not in sent.text()
    rita.close()


def test_signing_out_ends_the_session(browser: Browser, site: Site) -> None:
    rita = person(browser, site, "rita")
    page = rita.new_page()
    page.goto("/groups")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("signed out")
    page.goto(f"/groups/{GROUP}")
    expect(page).to_have_url(re.compile(r"/signin"))
    page.get_by_label("Token").fill("myd_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("refused that token")
    rita.close()


def test_a_version_page_says_which_versions_depend_on_it(browser: Browser, site: Site) -> None:
    with Registry(site.server.address, token=site.tokens["rita"]) as rita:
        rita.create_group("scoring")
        rita.register(
            "scoring",
            uri="s3://models/scoring/1.onnx",
            sha256=hashlib.sha256(b"scoring-1").hexdigest(),
            lineage=pb.Lineage(depends_on=[f"groups/{GROUP}/versions/1"]),
        )
    vic = person(browser, site, "vic")
    page = vic.new_page()
    page.goto(f"/groups/{GROUP}/versions/1")
    needed_by = page.get_by_role("table", name="Needed by")
    expect(needed_by.get_by_role("link", name="scoring v1")).to_have_attribute(
        "href", "/groups/scoring/versions/1"
    )
    expect(needed_by).to_contain_text("directly")
    page.goto(f"/groups/{GROUP}/versions/2")
    expect(page.get_by_text("no version depends on this one")).to_be_visible()
    vic.close()
