"""The web view's cookie, CSRF tokens and the signed-in person of a request.

The cookie holds the session id (HttpOnly, SameSite=Lax, Secure when Ackbot's public URL is
https). Every POST of a signed-in page carries a CSRF token derived from the session id, which a
page on another site cannot read or compute.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.access_log import log_rejected
from bot.app_keys import WEB_KEY
from incidents.web_sessions import Viewer

COOKIE = "ackbot_session"
VIEWER = web.RequestKey("web_viewer", Viewer)
SESSION_ID = web.RequestKey("web_session_id", str)


def csrf_token(session_id: str) -> str:
    return hashlib.sha256(b"ackbot-csrf:" + session_id.encode()).hexdigest()


def set_session_cookie(response: web.StreamResponse, request: web.Request, session_id: str) -> None:
    config = request.app[WEB_KEY]
    response.set_cookie(
        COOKIE, session_id, max_age=int(config.sessions.session_ttl.total_seconds()), httponly=True,
        samesite="Lax", secure=config.secure_cookies, path="/",
    )


def clear_session_cookie(response: web.StreamResponse, request: web.Request) -> None:
    response.del_cookie(COOKIE, path="/", secure=request.app[WEB_KEY].secure_cookies, samesite="Lax")


async def read_form(request: web.Request):
    """The request's form fields; a form that is not text in its charset is a 400."""
    try:
        return await request.post()
    except (ValueError, LookupError):  # UnicodeDecodeError, or an unknown charset
        log_rejected(request, "the form is not text")
        raise web.HTTPBadRequest(text="The form could not be read.") from None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def signed_in(handler: Handler) -> Handler:
    """Run ``handler`` for a signed-in person (``request[VIEWER]``); send anyone else to the
    sign-in page, and refuse a POST without the session's CSRF token."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        session_id = request.cookies.get(COOKIE, "")
        viewer = await request.app[WEB_KEY].sessions.viewer(session_id) if session_id else None
        if viewer is None:
            if request.method == "POST":
                raise web.HTTPForbidden(text="Your session has ended; sign in again.")
            raise web.HTTPSeeOther("/signin")
        if request.method == "POST":
            form = await read_form(request)
            sent = form.get("csrf")
            if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), csrf_token(session_id).encode()):
                raise web.HTTPForbidden(text="This form has expired (missing or wrong CSRF token); reload the page.")
        request[VIEWER], request[SESSION_ID] = viewer, session_id
        return await handler(request)

    return guarded
