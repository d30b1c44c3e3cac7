"""Building the Bolt ``AsyncApp``: request verification with the signing secret, the database-
backed installation and state stores, the install and link OAuth flows, and the listeners.

Every Web API call (Bolt's own, the OAuth exchanges, token rotation) goes to the configured API
URL through Ackbot's shared HTTP session.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aiohttp import ClientSession
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import buttons, events, slash
from bot.slack.config import BOT_SCOPES, LINK_USER_SCOPES, SlackConfig
from bot.slack.identity import LINKED_USER_NAME, LinkFlow
from bot.slack.replays import ReplayGuard
from bot.slack.stores import PeeweeInstallationStore, PeeweeOAuthStateStore
from bot.slack.surface import SessionRespond, SlackSurface
from channels.slack import quiet_logger
from channels.slack_blocks import escape

log = logging.getLogger("ackbot.slack")

INSTALL_STATE = "install"
LINK_STATE = "link"


@dataclass
class SlackApp:
    """The Bolt app, its two OAuth flows (workspace install, personal link), the handlers' state
    and the signing secret ``bot.slack.routes`` checks every request with."""

    bolt: AsyncApp
    install_flow: AsyncOAuthFlow
    link_flow: AsyncOAuthFlow
    surface: SlackSurface
    signing_secret: str = field(repr=False)

    def flow_for_state(self, state: str) -> AsyncOAuthFlow:
        return self.link_flow if state.startswith(f"{LINK_STATE}.") else self.install_flow


class WithheldOAuthCode(logging.Filter):
    """Bolt logs a failed OAuth code exchange with the code (a credential) in the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "oauth.v2.access" in str(record.msg) and "code" in str(record.msg):
            record.msg, record.args = "the Slack OAuth code exchange (oauth.v2.access) failed", ()
        return True


def build_slack_app(config: SlackConfig, session: ClientSession, surface: SlackSurface) -> SlackApp:
    bolt_log = quiet_logger("ackbot.slack.bolt")
    if not any(isinstance(existing, WithheldOAuthCode) for existing in bolt_log.filters):
        bolt_log.addFilter(WithheldOAuthCode())
    client = AsyncWebClient(base_url=config.api_url, session=session, retry_handlers=[], logger=bolt_log)
    installations = PeeweeInstallationStore(config.client_id, clock=surface.identity.clock)
    install_flow = AsyncOAuthFlow(client=client, logger=bolt_log, settings=_oauth_settings(
        config, installations, bolt_log, INSTALL_STATE, scopes=BOT_SCOPES, user_scopes=(),
    ))
    link_flow = LinkFlow(client=client, logger=bolt_log, identities=surface.identity.identities, settings=_oauth_settings(
        config, installations, bolt_log, LINK_STATE, scopes=(), user_scopes=LINK_USER_SCOPES,
        callback_options=AsyncCallbackOptions(success=_linked_page, failure=_link_failed_page),
    ))
    # Bot-only, cached authorize: clicks act with the bot token, and without the cache Bolt
    # calls auth.test (a round trip to Slack) before acknowledging every single click.
    authorize = AsyncInstallationStoreAuthorize(
        installation_store=installations, client_id=config.client_id, client_secret=config.client_secret,
        logger=bolt_log, bot_only=True, cache_enabled=True, client=client,
    )
    # Bolt checks signatures after parsing the body and logs a failure with the whole body:
    # the route checks them first instead (bot.slack.inbound). Bolt configures the logger named
    # after the app from its own on every request: named "ackbot", it set Ackbot's level.
    # process_before_response: Bolt answers when the listener returns; every listener acks and
    # hands its work to surface.in_flight. Otherwise Bolt runs the listener as a task of its own
    # and checks every 10 ms whether it has acked yet.
    bolt = AsyncApp(
        name=bolt_log.name, logger=bolt_log, signing_secret=config.signing_secret, client=client,
        # Bolt accepts an AsyncAuthorize instance here, but its annotation names only plain callables.
        installation_store=installations, oauth_flow=install_flow, authorize=authorize,  # type: ignore[arg-type]
        request_verification_enabled=False, raise_error_for_unhandled_request=True, process_before_response=True,
    )
    bolt.error(_on_error)
    bolt.use(ReplayGuard())
    bolt.use(RespondThrough(session))
    # Bolt tries listeners in the order they were added, building every argument a listener could
    # ask for at each: clicks, the most frequent requests, come first.
    buttons.register(bolt, surface)
    slash.register(bolt, surface)
    events.register(bolt, surface, installations)
    return SlackApp(bolt, install_flow, link_flow, surface, config.signing_secret)


class RespondThrough(AsyncMiddleware):
    """Bolt middleware: listeners' ``respond`` answers over ``session``."""

    def __init__(self, session: ClientSession):
        self.session = session

    async def async_process(self, *, req, resp, next):
        if req.context.response_url:
            req.context["respond"] = SessionRespond(req.context.response_url, self.session)
        return await next()


async def _on_error(error: Exception) -> BoltResponse:
    """An unhandled request is a quiet 404 (the route logs its one line; Bolt's own warning
    carries the body); any other failure is logged here, without the request."""
    if isinstance(error, BoltUnhandledRequestError):
        return BoltResponse(status=404, body={"error": "no handler for this Slack request"})
    log.error("a Slack request failed: %s", type(error).__name__, exc_info=error)
    return BoltResponse(status=500, body={"error": "internal error"})


def _oauth_settings(config: SlackConfig, installations, log, state_prefix: str, **kwargs) -> AsyncOAuthSettings:
    return AsyncOAuthSettings(
        client_id=config.client_id, client_secret=config.client_secret, redirect_uri=config.redirect_uri,
        install_page_rendering_enabled=False, installation_store=installations,
        state_store=PeeweeOAuthStateStore(state_prefix, clock=installations.clock), logger=log, **kwargs,
    )


def _page(title: str, message: str, status: int) -> BoltResponse:
    html = (
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{message}</p></body></html>"
    )
    return BoltResponse(status=status, body=html, headers={"Content-Type": "text/html; charset=utf-8"})


async def _linked_page(args: AsyncSuccessArgs) -> BoltResponse:
    name = escape(args.installation.custom_values.get(LINKED_USER_NAME, ""))
    return _page("Slack account linked", f"Your Slack account is now linked to Ackbot user {name}. You can close this tab.", 200)


async def _link_failed_page(args: AsyncFailureArgs) -> BoltResponse:
    # A BoltError from LinkFlow.store_installation says why nobody could be linked: refused, not broken.
    refused = args.reason == "storage_error" and args.error is not None
    reason = escape(str(args.error)) if refused else escape(args.reason.replace("_", " "))
    return _page(
        "Slack account not linked",
        f"Linking failed: {reason}. Ask an Ackbot admin to add your Slack email to the people file, then try again.",
        403 if refused else args.suggested_status_code,
    )
