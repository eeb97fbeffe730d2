"""The UI's session cookie and CSRF tokens: only this server's key opens or makes them."""

from __future__ import annotations

import base64
import time
from dataclasses import replace
from pathlib import Path

from modelyard_server.keyring import load_keyring
from modelyard_server.web.sessions import Session, SessionSeal


def seal(tmp_path: Path, name: str = "server.key") -> SessionSeal:
    return SessionSeal(load_keyring(tmp_path / name, create=True))


def test_a_sealed_session_opens_with_its_token_and_hides_it(tmp_path: Path) -> None:
    sessions = seal(tmp_path)
    session = Session.new("myd_secret-token")
    cookie = sessions.seal(session)
    assert "myd_secret-token" not in base64.urlsafe_b64decode(cookie + "==").decode("latin-1")
    assert sessions.open(cookie) == session


def test_a_cookie_altered_forged_or_from_another_key_opens_to_nothing(tmp_path: Path) -> None:
    sessions = seal(tmp_path)
    cookie = sessions.seal(Session.new("myd_token"))
    flipped = cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]
    assert sessions.open(flipped) is None
    assert sessions.open("not-a-cookie") is None
    assert sessions.open("") is None
    assert seal(tmp_path, "other.key").open(cookie) is None


def test_a_session_past_its_end_opens_to_nothing(tmp_path: Path) -> None:
    sessions = seal(tmp_path)
    ended = replace(Session.new("myd_token"), expires=time.time() - 1)
    assert sessions.open(sessions.seal(ended)) is None


def test_a_csrf_token_belongs_to_one_session(tmp_path: Path) -> None:
    sessions = seal(tmp_path)
    mine, theirs = Session.new("myd_a"), Session.new("myd_b")
    token = sessions.csrf(mine)
    assert sessions.csrf_ok(mine, token)
    assert not sessions.csrf_ok(theirs, token)
    assert not sessions.csrf_ok(None, token)
    assert not sessions.csrf_ok(mine, "")
    # Signing in starts a new session: a token taken before it no longer works.
    assert not sessions.csrf_ok(Session.new("myd_a"), token)
