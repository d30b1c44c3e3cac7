"""The Microsoft Teams bot at ``POST /api/messages``: Bot Framework token checks, Ackbot's
adapter and the activity handler, switched on by ACKBOT_TEAMS_APP_ID (with the password, or
tenant, its app type needs).

``create_app`` registers the route with ``add_routes`` and starts the bot with ``context``,
after the engine (the bot acts through its ``IncidentService``, and replies with the Teams
channel's token: one token cache per process).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import ClientSession, web

from bot.app_keys import CHANNELS_KEY, HTTP_KEY, SERVICE_KEY, TEAMS_KEY
from bot.teams.adapter import TeamsAdapter
from bot.teams.auth import ChannelTokens, SigningKeys
from bot.teams.bot import TeamsBot
from bot.teams.config import TeamsConfig
from bot.teams.connector import BotConnector, UserTokenService
from bot.teams.signin import SignIn
from channels.teams import BotCredentials, BotFrameworkToken, TeamsChannel
from channels.types import Channel
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
    return await teams.adapter.process(request, teams.bot.on_turn)


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
        token = _shared_token(app[CHANNELS_KEY], credentials, session)
        tokens = ChannelTokens(SigningKeys(config.openid_metadata_url, session), credentials.app_id)
        sign_in = SignIn(config.oauth_connection, UserTokenService(
            session, token, config.token_service_url, credentials.app_id
        ), app[SERVICE_KEY].teams) if config.oauth_connection else None
        bot = TeamsBot(app[SERVICE_KEY], web_sessions, sign_in, credentials.tenant_id, subscribe_links)
        app[TEAMS_KEY] = TeamsApp(TeamsAdapter(tokens, BotConnector(session, token)), bot)
        yield

    return teams_context


def _shared_token(channels: dict, credentials: BotCredentials, session: ClientSession) -> BotFrameworkToken:
    """The Teams channel's token; a token of the bot's own only where tests replaced the channels."""
    channel = channels.get(Channel.TEAMS)
    return channel.token if isinstance(channel, TeamsChannel) else BotFrameworkToken(credentials, session)
