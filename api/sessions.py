"""The web pages' signed session cookie: sign-in with a token, sign-out, and the anti-CSRF token.

A person signs in once with a token; the browser then carries Flask's signed session cookie
(HttpOnly, SameSite=Strict, Secure when the request came over HTTPS), holding the SHA-256 of the
token rather than the token, so every request looks the principal up again: a deleted customer
or a changed admin token ends the session at once. The signing key is generated into the data
folder (mode 0600) on first start and shared by every worker process.

CSRF: SameSite=Strict already keeps the cookie off requests started by other sites, but not off
those of a sibling site (another host of the same registrable domain) nor in old browsers. So a
request authenticated by the cookie that changes anything must also carry the session's random
anti-CSRF token, in the `X-CSRF-Token` header (the pages' JavaScript) or the `csrf_token` field
(the sign-out form): a page on another origin can make the browser send the cookie but cannot
read the token. The sign-in form, which has no session yet, refuses a post that the browser says
came from another site instead (login CSRF: signing a victim into the attacker's account).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Flask, Request, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from core.credentials import stored_secret
from core.tokens import hash_token

SESSION_KEY = "session_key"  # the signing key's file in the data folder's secrets
COOKIE_NAME = "energia_sessao"
LIFETIME = timedelta(days=7)  # from sign-in; polling does not extend it
TOKEN_HASH = "token_sha256"
CSRF = "csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure whenever the request itself came over HTTPS."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Flask's own, but a request without the cookie (every API client's) gets its empty session
        before Flask builds a signing serializer for it, which cost ~15 us a request."""
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure over HTTPS (or when configured); a plain-HTTP demo still gets its cookie."""
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def init_app(app: Flask, data_dir) -> None:
    """Give the app its signing key and the cookie's attributes."""
    key, _ = stored_secret(data_dir, SESSION_KEY)
    app.secret_key = key
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=LIFETIME,
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    app.session_interface = CookieSessions()


def open_session(token: str) -> None:
    """Start a fresh session for a token that has been checked (no earlier state survives)."""
    session.clear()
    session[TOKEN_HASH] = hash_token(token)
    session[CSRF] = secrets.token_urlsafe(32)
    session.permanent = True


def close_session() -> None:
    """Forget the session; the answer deletes the cookie."""
    session.clear()


def signed_in_hash() -> str | None:
    """The token hash of this request's session, or None without one."""
    value = session.get(TOKEN_HASH)
    return value if isinstance(value, str) else None


def csrf_token() -> str | None:
    """The session's anti-CSRF token, for the pages to embed."""
    value = session.get(CSRF)
    return value if isinstance(value, str) else None


def csrf_ok(given: str | None) -> bool:
    """Whether `given` is this session's anti-CSRF token (constant-time)."""
    expected = csrf_token()
    return bool(given and expected) and secrets.compare_digest(given.encode(), expected.encode())


def request_csrf_ok() -> bool:
    """Whether the request carries the session's anti-CSRF token in the header or the form."""
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.mimetype == "application/x-www-form-urlencoded":
        given = request.form.get(CSRF_FIELD)
    return csrf_ok(given)


def same_origin() -> bool:
    """False when the browser says the request was started by a page of another origin.

    Fetch Metadata (`Sec-Fetch-Site`) first: every current browser sends it, and the pages'
    `Referrer-Policy: no-referrer` makes them send `Origin: null` even for this site's own form.
    Without it, an `Origin` must be this site's (or absent: not a browser).
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is None or origin == request.host_url.rstrip("/")
