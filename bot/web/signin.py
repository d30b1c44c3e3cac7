"""Signing in and out: the sign-in form (mails a link), the link's confirm page (GET changes
nothing: mail scanners open links), its button (POST signs in), and signing out."""
from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.app_keys import WEB_KEY
from bot.web.render import page
from bot.web.session import SESSION_ID, clear_session_cookie, read_form, set_session_cookie, signed_in

log = logging.getLogger("ackbot.web")
MAX_EMAIL = 254
SENT = "If that address belongs to someone here, a sign-in link is on its way. It works once, for a short while."
_mailing: set[asyncio.Task] = set()


async def signin_form(request: web.Request) -> web.Response:
    return page(request, "signin.html", mailing=request.app[WEB_KEY].mail_sign_in_link is not None, sent=False, problem=None)


async def signin_request(request: web.Request) -> web.Response:
    """Mail a sign-in link to the address, if a person has it. The answer is the same either
    way and comes at once (the mail goes out in the background), so neither the words nor the
    time tell whether an address is known."""
    config = request.app[WEB_KEY]
    form = await read_form(request)
    email = form.get("email")
    if not isinstance(email, str) or not email.strip() or len(email) > MAX_EMAIL or "@" not in email:
        return page(request, "signin.html", http_status=422, mailing=config.mail_sign_in_link is not None, sent=False,
                    problem="Enter your email address.")
    if config.mail_sign_in_link is not None:
        task = asyncio.create_task(_mail_link(config, email.strip()))
        _mailing.add(task)
        task.add_done_callback(_mailing.discard)
    return page(request, "signin.html", mailing=config.mail_sign_in_link is not None, sent=True, problem=None)


async def _mail_link(config, email: str) -> None:
    try:
        issued = await config.sessions.issue_link_for_email(email)
        if issued is not None:
            await config.mail_sign_in_link(issued[1], issued[0])
    except Exception as error:  # a mail that cannot go out is logged, never shown to the asker
        log.warning("could not mail a sign-in link: %s", type(error).__name__)


async def confirm(request: web.Request) -> web.Response:
    state = await request.app[WEB_KEY].sessions.link_state(request.match_info["token"])
    if state.state != "valid":
        return page(request, "link_invalid.html", http_status=404)
    return page(request, "signin_confirm.html", person=state.person)


async def sign_in(request: web.Request) -> web.StreamResponse:
    signed = await request.app[WEB_KEY].sessions.sign_in(request.match_info["token"])
    if signed is None:
        return page(request, "link_invalid.html", http_status=404)
    redirect = web.HTTPSeeOther("/")
    set_session_cookie(redirect, request, signed.session_id)
    raise redirect


@signed_in
async def sign_out(request: web.Request) -> web.StreamResponse:
    await request.app[WEB_KEY].sessions.sign_out(request[SESSION_ID])
    redirect = web.HTTPSeeOther("/signin")
    clear_session_cookie(redirect, request)
    raise redirect
