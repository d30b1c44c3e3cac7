"""Every key of Ackbot's aiohttp application, in one place: what ``app.py`` and the route
modules put in the application and read back.

Types of ``bot`` modules are named for the type checker only: those modules import this one.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import ClientSession, web

from channels.dispatcher import Dispatcher
from incidents.service import IncidentService
from storage.availability import OutageWatch

if TYPE_CHECKING:
    from bot.ical_feeds import FeedRefresher
    from bot.phone import TwilioWebhooks
    from bot.slack.bolt_app import SlackApp
    from bot.teams import TeamsApp
    from bot.web.config import WebConfig

SERVICE_KEY = web.AppKey("incident_service", IncidentService)
DISPATCHER_KEY = web.AppKey("dispatcher", Dispatcher)
# The process's one HTTP client session, open while the application runs.
HTTP_KEY = web.AppKey("http", ClientSession)
# The channels the dispatcher sends on, keyed by Channel.
CHANNELS_KEY = web.AppKey("channels", dict)
# {"email": "on" | "off: set …"} for every channel, set when the engine starts.
CHANNEL_STATES_KEY = web.AppKey("channel_states", dict)
OUTAGE_KEY = web.AppKey("database_outage", OutageWatch)
FEEDS_KEY: web.AppKey[FeedRefresher] = web.AppKey("feeds")
# The VAPID applicationServerKey; absent while push is off.
PUSH_PUBLIC_KEY = web.AppKey("push_public_key", str)
WEBHOOKS_KEY: web.AppKey[TwilioWebhooks] = web.AppKey("twilio_webhooks")
# Absent while Slack or Teams is off.
SLACK_APP_KEY: web.AppKey[SlackApp] = web.AppKey("slack_app")
TEAMS_KEY: web.AppKey[TeamsApp] = web.AppKey("teams")
WEB_KEY: web.AppKey[WebConfig] = web.AppKey("web_view")
