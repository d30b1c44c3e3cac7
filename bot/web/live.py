"""The incident page's live updates: a server-sent event each time anything the page shows
changes. It looks at the database, so a change made by any instance reaches every browser. The
page says which version it shows (``since``), so a change made before the stream opened is sent
at once rather than missed."""
from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp_sse import sse_response

from bot.app_keys import WEB_KEY
from bot.web.pages import incident_number, version_token
from bot.web.session import VIEWER, signed_in
from incidents.service import IncidentNotFound


@signed_in
async def incident_changes(request: web.Request) -> web.StreamResponse:
    config, viewer, number = request.app[WEB_KEY], request[VIEWER], incident_number(request)
    try:
        seen = await config.views.version(viewer, number)
    except IncidentNotFound:
        raise web.HTTPNotFound(text="No such incident.") from None
    since = request.query.get("since")
    async with sse_response(request) as stream:
        if since is not None and since != version_token(seen):
            await stream.send("changed", event="incident")
        while stream.is_connected():
            await asyncio.sleep(config.live_interval)
            current = await config.views.version(viewer, number)
            if current != seen:
                seen = current
                await stream.send("changed", event="incident")
    return stream
