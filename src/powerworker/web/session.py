"""The dashboard session: a small JSON value in an encrypted, signed cookie (Fernet), valid for 24 h.

Fernet (AES-128-CBC + HMAC-SHA256 with a timestamp) keeps the backend's session token unreadable and the
cookie unforgeable; its timestamp bounds the cookie's life whatever the browser does with `max_age`. The key
is derived from `WEB_SESSION_SECRET` with HKDF, so any secret of 32 bytes or more works.

A visitor first gets an anonymous session (a CSRF token only) with the login page; signing in replaces it
with a new session (new id, new CSRF token) holding the backend's session token and the user's e-mail, so
a session id planted before login is worthless afterwards. The cookie is written only at those two moments.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import asdict, dataclass

from aiohttp import web
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from powerworker.clock import Clock, system_clock
from powerworker.web.config import SESSION_MAX_AGE_S

__all__ = ["Session", "SessionCodec"]


@dataclass(frozen=True)
class Session:
    """What the cookie holds.

    Attributes:
        sid: random id of this session (renewed at login).
        csrf: the token every state-changing form must send back.
        token: the backend's session token; None for an anonymous visitor.
        email: the signed-in user's e-mail.
        issued_at: epoch seconds when the cookie was issued.
    """

    sid: str
    csrf: str
    token: str | None = None
    email: str | None = None
    issued_at: float = 0.0

    @property
    def signed_in(self) -> bool:
        return bool(self.token)

    @classmethod
    def new(cls, now: float, *, token: str | None = None, email: str | None = None) -> Session:
        """A fresh session with new random id and CSRF token."""
        return cls(secrets.token_urlsafe(16), secrets.token_urlsafe(32), token, email, now)


class SessionCodec:
    """Turns sessions into cookie values and back, and writes the cookie with its flags.

    Args:
        secret: key material (`WEB_SESSION_SECRET`).
        secure: set `Secure` on the cookie and use the `__Host-` name prefix (outside development/test).
        clock: where the cookie's issue time and its expiry are read.
        max_age_s: life of a session.
    """

    def __init__(
        self,
        secret: bytes,
        *,
        secure: bool = True,
        clock: Clock = system_clock,
        max_age_s: int = SESSION_MAX_AGE_S,
    ) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"powerworker-dashboard", info=b"session-cookie"
        ).derive(secret)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self._clock = clock
        self._secure = secure
        self.max_age_s = max_age_s
        self.cookie_name = "__Host-powerworker_session" if secure else "powerworker_session"

    def encode(self, session: Session) -> str:
        payload = json.dumps(asdict(session), separators=(",", ":")).encode()
        return self._fernet.encrypt_at_time(payload, int(self._clock.time())).decode()

    def decode(self, value: str) -> Session | None:
        """The session in a cookie value, or None if it is forged, damaged or older than 24 h."""
        try:
            payload = self._fernet.decrypt_at_time(
                value.encode(), ttl=self.max_age_s, current_time=int(self._clock.time())
            )
            data = json.loads(payload)
            return Session(**{k: data[k] for k in Session.__dataclass_fields__ if k in data})
        except (InvalidToken, ValueError, TypeError, KeyError):
            return None

    def read(self, request: web.Request) -> Session | None:
        """The request's session, if its cookie holds a valid one."""
        value = request.cookies.get(self.cookie_name)
        return self.decode(value) if value else None

    def write(self, response: web.StreamResponse, session: Session) -> None:
        """Set the session cookie: HttpOnly, SameSite=Strict, Secure outside development, 24 h."""
        response.set_cookie(
            self.cookie_name,
            self.encode(session),
            max_age=self.max_age_s,
            path="/",
            httponly=True,
            secure=self._secure,
            samesite="Strict",
        )

    def clear(self, response: web.StreamResponse) -> None:
        """Delete the session cookie."""
        response.del_cookie(self.cookie_name, path="/", secure=self._secure, httponly=True, samesite="Strict")
