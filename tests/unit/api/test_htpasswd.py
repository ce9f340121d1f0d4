"""htpasswd files of bcrypt hashes, Basic credentials, loopback addresses."""

from __future__ import annotations

import base64
from pathlib import Path

import bcrypt
import pytest

from pipeline.api.basic import credentials
from pipeline.api.htpasswd import Htpasswd, parse
from pipeline.api.noauth import is_loopback
from pipeline.exceptions import ConfigError


def hashed(password: str, prefix: str = "$2y$") -> str:
    return prefix + bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()[4:]


@pytest.mark.parametrize("prefix", ["$2y$", "$2b$", "$2a$"])
def test_htpasswd_b_hashes_check(tmp_path: Path, prefix: str) -> None:
    path = tmp_path / "htpasswd"
    path.write_text(f"alice:{hashed('s3cret', prefix)}\n")
    users = Htpasswd(str(path))
    assert users.check("alice", "s3cret")
    assert users.check("alice", "s3cret")  # remembered
    assert not users.check("alice", "S3cret")
    assert not users.check("bob", "s3cret")


def test_only_the_first_72_bytes_count_as_in_htpasswd(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    path.write_text(f"alice:{hashed('x' * 72)}\n")
    assert Htpasswd(str(path)).check("alice", "x" * 80)


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    path.write_text(f"alice:{hashed('one')}\n")
    users = Htpasswd(str(path))
    assert users.check("alice", "one")
    path.write_text(f"alice:{hashed('two')}\n# a longer file\n")
    assert not users.check("alice", "one") and users.check("alice", "two")


@pytest.mark.parametrize(("text", "line"), [
    ("alice:$apr1$x$y\n", 1), ("\n#c\nbob:{SHA}abc=\n", 3), (":$2y$05$abc\n", 1),
])
def test_other_schemes_are_refused_naming_the_line(text: str, line: int) -> None:
    with pytest.raises(ConfigError, match=f"htpasswd:{line}:"):
        parse(text, "htpasswd")


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@pytest.mark.parametrize(("header", "expected"), [
    (basic(b"alice:pa:ss"), ("alice", "pa:ss")),
    (basic("zoë:pässword".encode()), ("zoë", "pässword")),
    ("basic " + base64.b64encode(b"a:b").decode(), ("a", "b")),
    (basic(b"alice"), None), (basic(b":pw"), None), ("Basic !!!", None),
    (basic(b"\xff:x"), None), ("Bearer abc", None), ("", None),
])
def test_basic_credentials(header: str, expected: tuple[str, str] | None) -> None:
    assert credentials(header) == expected


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False), ("10.0.0.1", False),
    ("no-such-host.invalid", False),
])
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
