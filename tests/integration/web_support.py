"""Helpers for driving the web view as a browser would: sign in through a one-time link, read
the CSRF token from a page, post forms."""
from __future__ import annotations

import re

from bot.app_keys import WEB_KEY

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


async def sign_in_link(client, handle: str) -> str:
    """The path of a fresh sign-in link for ``handle`` (what ``ackbot login-link`` prints)."""
    url, _ = await client.app[WEB_KEY].sessions.issue_link(handle)
    return url[len(client.app[WEB_KEY].sessions.public_url):]


async def sign_in(client, handle: str) -> None:
    """Sign ``handle`` in; the client's cookie jar keeps the session."""
    response = await client.post(await sign_in_link(client, handle), allow_redirects=False)
    assert response.status == 303, await response.text()


async def csrf_of(client, path: str = "/") -> str:
    page = await client.get(path)
    return CSRF.search(await page.text()).group(1)
