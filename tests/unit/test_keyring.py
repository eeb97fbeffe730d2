"""The server's key file: created once, private, and the same secret gives the same keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from modelyard_server.keyring import KeyFileError, load_keyring


def test_the_first_start_creates_a_private_key_file_and_later_starts_read_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "server.key"
    first = load_keyring(path, create=True)
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_keyring(path, create=True)
    assert again.derive("page-tokens") == first.derive("page-tokens")
    assert again.fingerprint == first.fingerprint


def test_each_purpose_gets_its_own_key_and_each_secret_its_own_keys(tmp_path: Path) -> None:
    one = load_keyring(tmp_path / "one.key", create=True)
    two = load_keyring(tmp_path / "two.key", create=True)
    assert one.derive("page-tokens") != one.derive("audit-chain")
    assert one.derive("page-tokens") != two.derive("page-tokens")
    assert one.fingerprint != two.fingerprint
    message = b"head 42"
    signature = one.signing_key("checkpoints").sign(message)
    one.signing_key("checkpoints").public_key().verify(signature, message)  # raises if not


def test_a_named_key_file_that_is_missing_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.key"
    with pytest.raises(KeyFileError, match=r"no key file at .*elsewhere\.key"):
        load_keyring(path, create=False)
    assert not path.exists()


@pytest.mark.parametrize(
    ("text", "mode", "said"),
    [
        ("ab" * 32, 0o644, r"readable by others .*chmod 600"),
        ("not hex", 0o600, "must hold 32 bytes as 64 hex digits"),
        ("ab" * 16, 0o600, "must hold 32 bytes"),
    ],
)
def test_a_key_file_that_is_unsafe_or_malformed_is_refused_with_what_to_do(
    tmp_path: Path, text: str, mode: int, said: str
) -> None:
    path = tmp_path / "server.key"
    path.write_text(text)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match=said):
        load_keyring(path, create=True)
