"""The Microsoft Teams bot at ``POST /api/messages``: Bot Framework authentication, the
CloudAdapter and the activity handler, switched on by ACKBOT_TEAMS_APP_ID (with the password,
or tenant, its app type needs).

``create_app`` registers the route with ``add_routes`` and starts the bot with ``context``,
after the engine (the bot acts through its ``IncidentService``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web
from botframework.connector.auth import AuthenticationConstants

from bot.app_keys import HTTP_KEY, SERVICE_KEY, TEAMS_KEY
from bot.teams import auth
from bot.teams.adapter import TeamsAdapter
from bot.teams.bot import TeamsBot
from bot.teams.config import TeamsConfig
from bot.teams.signin import SignIn
from channels.teams import BotFrameworkToken
from incidents.push_links import SubscribeLinks
from incidents.web_sessions import WebSessions

log = logging.getLogger("ackbot.teams")


@dataclass(frozen=True)
class TeamsApp:
    adapter: TeamsAdapter
    bot: TeamsBot



def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/messages", messages)


async def messages(request: web.Request) -> web.Response:
    teams = request.app.get(TEAMS_KEY)
    if teams is None:
        return web.json_response({"error": "Teams is off on this server (see /healthz)"}, status=404)
    return await teams.adapter.process(request, teams.bot)


def context(config: TeamsConfig, web_sessions: WebSessions, subscribe_links: SubscribeLinks | None):
    """The cleanup context that starts the bot when Teams is configured, on the application's
    HTTP session; ``subscribe_links`` is None while push is off."""

    async def teams_context(app: web.Application):
        credentials = config.credentials
        if credentials.problem():
            if credentials.app_id:
                log.warning("Teams is off: %s", credentials.problem())
            yield
            return
        session = app[HTTP_KEY]
        token = BotFrameworkToken(credentials, session)
        undo = [
            auth.install_signing_keys(auth.SigningKeys(url, session))
            for url in (config.openid_metadata_url, AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL)
        ]
        authentication = auth.build_authentication(credentials, token, config.openid_metadata_url, config.token_service_url)
        sign_in = SignIn(config.oauth_connection) if config.oauth_connection else None
        bot = TeamsBot(app[SERVICE_KEY], web_sessions, sign_in, credentials.tenant_id, subscribe_links)
        app[TEAMS_KEY] = TeamsApp(TeamsAdapter(authentication), bot)
        try:
            yield
        finally:
            for remove in undo:
                remove()

    return teams_context
