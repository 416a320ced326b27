"""The server's token file: made private, read back, and every bad file named in one line."""

from __future__ import annotations

import os
import stat

import pytest

from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.tokens import default_token_path, ensure_token, others_can_read, read_token


def test_a_new_token_file_is_private_and_read_back(tmp_path):
    path = tmp_path / "config" / "live-canvas" / "serve-token"
    token, made = ensure_token(path)
    assert made and len(token) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not others_can_read(path)
    assert ensure_token(path) == (token, False)
    assert read_token(path) == token
    assert [p.name for p in path.parent.iterdir()] == ["serve-token"]  # no temporary left


def test_two_servers_get_different_tokens(tmp_path):
    assert ensure_token(tmp_path / "a")[0] != ensure_token(tmp_path / "b")[0]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "does not hold a token"),
        (b"short", "does not hold a token"),
        (b"has spaces in it, which no header can carry", "does not hold a token"),
        (b"\xff\xfe\x00binary-but-long-enough", "not text"),
        (b"x" * 5000, "too large"),
    ],
)
def test_a_file_that_holds_no_token_is_named(tmp_path, content, words):
    path = tmp_path / "token"
    path.write_bytes(content)
    with pytest.raises(InvalidRequestError, match=words):
        read_token(path)


def test_missing_folder_and_unreadable_token_files_are_named(tmp_path):
    with pytest.raises(InvalidRequestError, match="does not exist"):
        read_token(tmp_path / "nope")
    with pytest.raises(InvalidRequestError, match="is a folder"):
        read_token(tmp_path)
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked"
        locked.write_text("a" * 40)
        locked.chmod(0)
        with pytest.raises(InvalidRequestError, match="permission denied"):
            read_token(locked)


def test_a_token_file_others_can_read_is_noticed(tmp_path):
    path = tmp_path / "token"
    path.write_text("b" * 40 + "\n")
    path.chmod(0o644)
    assert others_can_read(path)
    assert read_token(path) == "b" * 40


def test_the_default_token_lives_in_the_users_config(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_token_path() == tmp_path / "live-canvas" / "serve-token"
