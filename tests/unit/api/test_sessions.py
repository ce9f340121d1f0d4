"""Session cookies: encrypted, signed, expiring, forgotten at sign-out; CSRF tokens."""

from __future__ import annotations

import time

import pytest

from pipeline.api.sessions import SessionCodec


def test_a_session_survives_the_round_trip_and_hides_its_token() -> None:
    codec = SessionCodec("secret", 3600)
    session = codec.new("alice", token="gAAAA-keystone-token")
    cookie = codec.encode(session)
    assert "keystone-token" not in cookie and "alice" not in cookie
    assert codec.decode(cookie) == session
    assert SessionCodec("secret", 3600).decode(cookie) == session  # another process, same key


@pytest.mark.parametrize("cookie", ["", "garbage", "gAAAAABbroken"])
def test_garbage_is_no_session(cookie: str) -> None:
    assert SessionCodec("secret", 3600).decode(cookie) is None


def test_a_cookie_of_another_key_or_tampered_is_refused() -> None:
    cookie = SessionCodec("secret", 3600).encode(SessionCodec("secret", 3600).new("alice"))
    assert SessionCodec("other", 3600).decode(cookie) is None
    assert SessionCodec(None, 3600).decode(cookie) is None
    flipped = cookie[:40] + ("A" if cookie[40] != "A" else "B") + cookie[41:]
    assert SessionCodec("secret", 3600).decode(flipped) is None


def test_a_session_ends_with_its_token() -> None:
    codec = SessionCodec("secret", 3600)
    ending = codec.new("alice", token="t", until=time.time() - 1)
    assert codec.decode(codec.encode(ending)) is None
    assert codec.new("alice", until=time.time() + 60).max_age <= 60
    assert 3590 <= codec.new("alice").max_age <= 3600


def test_signing_out_refuses_the_cookie_in_this_process() -> None:
    codec = SessionCodec("secret", 3600)
    session = codec.new("alice")
    cookie = codec.encode(session)
    codec.sign_out(session)
    assert codec.decode(cookie) is None
    assert codec.decode(codec.encode(codec.new("alice"))) is not None


def test_csrf_tokens_bind_the_nonce_and_the_session() -> None:
    codec = SessionCodec("secret", 3600)
    token = codec.csrf_token("nonce", "sid")
    assert token == SessionCodec("secret", 3600).csrf_token("nonce", "sid")
    assert len({token, codec.csrf_token("nonce", ""), codec.csrf_token("other", "sid"),
                SessionCodec("other", 3600).csrf_token("nonce", "sid")}) == 4
