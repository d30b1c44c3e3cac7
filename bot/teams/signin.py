"""``link`` with a Bot Framework OAuth connection (ACKBOT_TEAMS_OAUTH_CONNECTION): the person
signs in through the Bot Framework token service and Ackbot keeps the token, encrypted, on their
Teams connection.

``start`` asks the token service for a token the person already has, else sends an OAuth card
with the sign-in link; after signing in, Teams sends a ``signin/verifyState`` invoke with a
magic code, which ``finish`` exchanges for the token.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import ActionTypes, CardAction, OAuthCard

from bot.teams.activities import reference_of
from bot.teams.connector import ConnectorError, UserToken, UserTokenService
from incidents.teams_connections import TeamsStore

log = logging.getLogger("ackbot.teams")

SIGN_IN_UNAVAILABLE = "Sign-in is unavailable right now (the Bot Framework token service did not answer). Say link again in a few minutes."


class SignIn:
    def __init__(self, connection_name: str, tokens: UserTokenService, accounts: TeamsStore):
        self.connection_name = connection_name
        self.tokens = tokens
        self.accounts = accounts

    async def start(self, turn_context: TurnContext, user) -> None:
        """Keep the person's token if the token service has one, else send the sign-in card; say
        so when the token service cannot be reached."""
        try:
            token = await self._token(turn_context, magic_code=None)
            link = None if token else await self.tokens.sign_in_link(
                self.connection_name, reference_of(turn_context.activity), _relates_to(turn_context)
            )
        except ConnectorError as error:
            await _unavailable(turn_context, error)
            return
        if token is not None:
            await self._keep(turn_context, token)
            await turn_context.send_activity(f"Linked and signed in as {user.name}.")
            return
        assert link is not None  # asked for whenever there is no token
        card = OAuthCard(
            text=f"Sign in to link this Teams account to {user.name} in Ackbot.",
            connection_name=self.connection_name,
            buttons=[CardAction(type=ActionTypes.signin, title="Sign in", value=link)],
        )
        await turn_context.send_activity(MessageFactory.attachment(CardFactory.oauth_card(card)))

    async def finish(self, turn_context: TurnContext) -> None:
        """The ``signin/verifyState`` invoke: trade its magic code for the token and keep it."""
        value = turn_context.activity.value
        code = value.get("state") if isinstance(value, dict) else None
        try:
            token = await self._token(turn_context, magic_code=str(code)) if code else None
        except ConnectorError as error:
            await _unavailable(turn_context, error)
            return
        if token is None:
            await turn_context.send_activity("Signing in didn't finish; say link to try again.")
            return
        await self._keep(turn_context, token)
        await turn_context.send_activity("Signed in: this Teams account is linked.")

    async def _token(self, turn_context: TurnContext, magic_code: str | None) -> UserToken | None:
        activity = turn_context.activity
        return await self.tokens.user_token(activity.from_property.id, self.connection_name, activity.channel_id, magic_code)

    async def _keep(self, turn_context: TurnContext, token: UserToken) -> None:
        stored = await self.accounts.store_user_token(
            turn_context.activity.from_property.id, token.token, _expiry(token.expiration)
        )
        if not stored:
            log.warning("a Teams sign-in finished for an account without a connection; token not kept")


async def _unavailable(turn_context: TurnContext, error: ConnectorError) -> None:
    log.warning("the Bot Framework token service failed: %s", error)
    await turn_context.send_activity(SIGN_IN_UNAVAILABLE)


def _relates_to(turn_context: TurnContext) -> dict | None:
    relates_to = turn_context.activity.relates_to
    return relates_to.serialize() if relates_to else None


def _expiry(expiration: str | None) -> datetime | None:
    if not expiration:
        return None
    try:
        moment = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
