"""The Microsoft Teams bot at ``POST /api/messages``: Bot Framework authentication, the
CloudAdapter and the activity handler, switched on by ACKBOT_TEAMS_APP_ID (with the password,
or tenant, its app type needs).

``create_app`` registers the route with ``add_routes`` and starts the bot with ``context``,
after the engine (the bot acts through its ``IncidentService``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import ClientSession, ClientTimeout, web
from botframework.connector.auth import AuthenticationConstants

from bot.api import SERVICE_KEY
from bot.push import subscribe_links
from bot.teams import auth
from bot.teams.adapter import TeamsAdapter
from bot.teams.bot import TeamsBot
from bot.teams.signin import SignIn
from channels.teams import BotCredentials, BotFrameworkToken

log = logging.getLogger("ackbot.teams")


@dataclass(frozen=True)
class TeamsApp:
    adapter: TeamsAdapter
    bot: TeamsBot


TEAMS_KEY = web.AppKey("teams", TeamsApp)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/messages", messages)


async def messages(request: web.Request) -> web.Response:
    teams = request.app.get(TEAMS_KEY)
    if teams is None:
        return web.json_response({"error": "Teams is off on this server (see /healthz)"}, status=404)
    return await teams.adapter.process(request, teams.bot)


def context(settings):
    """The cleanup context that starts the bot when Teams is configured."""

    async def teams_context(app: web.Application):
        credentials = BotCredentials.from_settings(settings)
        if credentials.problem():
            if settings.teams_app_id:
                log.warning("Teams is off: %s", credentials.problem())
            yield
            return
        async with ClientSession(timeout=ClientTimeout(total=15)) as session:
            token = BotFrameworkToken(credentials, session)
            undo = [
                auth.install_signing_keys(auth.SigningKeys(url, session))
                for url in (settings.teams_openid_metadata_url, AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL)
            ]
            authentication = auth.build_authentication(
                credentials, token, settings.teams_openid_metadata_url, settings.teams_token_service_url
            )
            sign_in = SignIn(settings.teams_oauth_connection, app[SERVICE_KEY].teams) if settings.teams_oauth_connection else None
            push = subscribe_links(settings)
            service = app[SERVICE_KEY]
            bot = TeamsBot(service, settings.web_sessions(service.clock), sign_in, settings.teams_tenant_id, push)
            app[TEAMS_KEY] = TeamsApp(TeamsAdapter(authentication), bot)
            try:
                yield
            finally:
                for remove in undo:
                    remove()

    return teams_context
