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

from bot.api import SERVICE_KEY
from bot.push import subscribe_links
from bot.teams.adapter import TeamsAdapter
from bot.teams.auth import ChannelTokens, SigningKeys
from bot.teams.bot import TeamsBot
from bot.teams.connector import BotConnector, UserTokenService
from bot.teams.signin import SignIn
from channels.teams import BotCredentials, BotFrameworkToken, TeamsChannel
from channels.types import Channel

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
    return await teams.adapter.process(request, teams.bot.on_turn)


def context(settings, http_key: web.AppKey[ClientSession], channels_key: web.AppKey[dict]):
    """The cleanup context that starts the bot when Teams is configured, on the app's HTTP
    session (``http_key``) and the Teams channel's token (from the channels at ``channels_key``)."""

    async def teams_context(app: web.Application):
        credentials = BotCredentials.from_settings(settings)
        if credentials.problem():
            if settings.teams_app_id:
                log.warning("Teams is off: %s", credentials.problem())
            yield
            return
        session = app[http_key]
        token = _shared_token(app[channels_key], credentials, session)
        tokens = ChannelTokens(SigningKeys(settings.teams_openid_metadata_url, session), credentials.app_id)
        sign_in = SignIn(settings.teams_oauth_connection, UserTokenService(
            session, token, settings.teams_token_service_url, credentials.app_id
        )) if settings.teams_oauth_connection else None
        push = subscribe_links(settings)
        service = app[SERVICE_KEY]
        bot = TeamsBot(service, settings.web_sessions(service.clock), sign_in, settings.teams_tenant_id, push)
        app[TEAMS_KEY] = TeamsApp(TeamsAdapter(tokens, BotConnector(session, token)), bot)
        yield

    return teams_context


def _shared_token(channels: dict, credentials: BotCredentials, session: ClientSession) -> BotFrameworkToken:
    """The Teams channel's token; a token of the bot's own only where tests replaced the channels."""
    channel = channels.get(Channel.TEAMS)
    return channel.token if isinstance(channel, TeamsChannel) else BotFrameworkToken(credentials, session)
