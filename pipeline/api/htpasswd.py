"""An htpasswd file of bcrypt hashes: who may sign in under ``auth_strategy = basic``.

Lines are ``user:hash`` as ``htpasswd -B`` writes them (``$2y$``, also
``$2a$``/``$2b$``); blank lines and ``#`` comments are skipped. Any other
hash scheme (MD5 ``$apr1$``, SHA1, crypt) is refused when the file is read,
naming the line: those are too fast to guess against. The file is re-read
when its modification time or size changes, so adding or removing a user
needs no restart.

bcrypt hashes only the first 72 bytes of a password, as ``htpasswd`` does.
A correct check is remembered for a few minutes (keyed by a per-process
HMAC of the credentials and the stored hash), so a program calling the API
does not pay bcrypt's cost on every request; a changed hash or a removed
user takes effect on the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time

import bcrypt

from pipeline.exceptions import ConfigError

BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
REMEMBER_SECONDS = 300.0
REMEMBER_MAX = 1024


def parse(text: str, path: str) -> dict[str, bytes]:
    """Users and their bcrypt hashes from htpasswd ``text`` (ConfigError when invalid)."""
    users: dict[str, bytes] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user:
            raise ConfigError(f"{path}:{number}: not a user:hash line")
        if not hashed.startswith(BCRYPT_PREFIXES):
            raise ConfigError(
                f"{path}:{number}: user {user!r} has no bcrypt hash; create it with htpasswd -B"
            )
        users[user] = hashed.encode()
    return users


class Htpasswd:
    """The users of one htpasswd file, re-read when it changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[float, int] | None = None
        self._users: dict[str, bytes] = {}
        self._key = os.urandom(32)
        self._remembered: dict[bytes, float] = {}
        self._dummy = bcrypt.hashpw(b"no such user", bcrypt.gensalt(rounds=10))
        self.users()  # a missing or invalid file fails at start-up

    def users(self) -> dict[str, bytes]:
        """User name -> bcrypt hash, as the file says now."""
        try:
            stat = os.stat(self.path)
        except OSError as err:
            raise ConfigError(f"[api] htpasswd_file {self.path}: {err}") from err
        stamp = (stat.st_mtime, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                with open(self.path, encoding="utf-8") as handle:
                    self._users = parse(handle.read(), self.path)
                self._stamp = stamp
            return self._users

    def check(self, user: str, password: str) -> bool:
        """True when ``password`` is ``user``'s (slow: bcrypt; call it off the event loop)."""
        hashed = self.users().get(user)
        secret = password.encode()[:72]
        key = hmac.new(
            self._key, b"%s\0%s\0%s" % (user.encode(), secret, hashed or b""), hashlib.sha256
        ).digest()
        now = time.monotonic()
        if hashed is not None and self._remembered.get(key, 0.0) > now:
            return True
        try:
            # An unknown user costs a bcrypt check too, so timing tells nothing.
            good = bcrypt.checkpw(secret, hashed or self._dummy) and hashed is not None
        except ValueError:  # a malformed hash in the file
            return False
        if good:
            with self._lock:
                if len(self._remembered) >= REMEMBER_MAX:
                    self._remembered.clear()
                self._remembered[key] = now + REMEMBER_SECONDS
        return good
