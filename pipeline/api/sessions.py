"""Sessions of the tickets page: an encrypted, signed cookie, nothing stored.

After a sign-in the browser holds one cookie, ``pipeline_session``: a
Fernet token (AES-128-CBC and HMAC-SHA256, from ``cryptography``) of the session's
id, user name, expiry and, with Keystone, the user's token, which is thus
never readable from the cookie. The cookie is HttpOnly, SameSite=Strict,
Secure when the request came over HTTPS, and expires with the session: after
``[api] session_lifetime`` seconds or when the Keystone token expires,
whichever comes first.

The keys derive from ``[api] session_secret``; without one, from random
bytes drawn when the application is built, so sessions end with the
process. Signing out forgets the session in this process too, so a copy of
the cookie stops working at once here (with Keystone the token is also
revoked, which reaches every process once their token caches expire).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass

from cryptography.fernet import Fernet, InvalidToken

COOKIE = "pipeline_session"


@dataclass(frozen=True)
class Session:
    """One signed-in browser."""

    sid: str
    user: str
    expires: float
    token: str | None = None

    @property
    def max_age(self) -> int:
        """Seconds the cookie should live."""
        return max(0, int(self.expires - time.time()))


def _derive(secret: bytes, purpose: str) -> bytes:
    # One secret, independent keys per use.
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()


class SessionCodec:
    """Makes, encodes and checks sessions; derives the CSRF key."""

    def __init__(self, secret: str | None, lifetime: int) -> None:
        raw = secret.encode() if secret else os.urandom(32)
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(raw, "session cookie")))
        self._csrf_key = _derive(raw, "csrf token")
        self.lifetime = lifetime
        self._signed_out: dict[str, float] = {}
        self._lock = threading.Lock()

    def new(self, user: str, token: str | None = None, until: float | None = None) -> Session:
        """A new session of ``user``, ending at ``until`` at the latest."""
        expires = time.time() + self.lifetime
        if until is not None:
            expires = min(expires, until)
        return Session(secrets.token_urlsafe(16), user, expires, token)

    def encode(self, session: Session) -> str:
        """The cookie value of ``session``."""
        return self._fernet.encrypt(json.dumps(asdict(session)).encode()).decode()

    def decode(self, value: str | None) -> Session | None:
        """The session of a cookie value; None when absent, forged, expired or signed out."""
        if not value:
            return None
        try:
            data = json.loads(self._fernet.decrypt(value.encode(), ttl=self.lifetime))
            session = Session(**data)
        except (InvalidToken, ValueError, TypeError):
            return None
        if session.expires <= time.time() or session.sid in self._signed_out:
            return None
        return session

    def sign_out(self, session: Session) -> None:
        """Refuse ``session`` from now on in this process."""
        now = time.time()
        with self._lock:
            for sid, until in list(self._signed_out.items()):
                if until <= now:
                    del self._signed_out[sid]
            self._signed_out[session.sid] = session.expires

    def csrf_token(self, nonce: str, sid: str) -> str:
        """The CSRF token of a browser's nonce within a session (``sid`` may be empty)."""
        message = f"{nonce}|{sid}".encode()
        return hmac.new(self._csrf_key, message, hashlib.sha256).hexdigest()
