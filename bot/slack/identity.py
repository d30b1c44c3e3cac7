"""Who a Slack user is in Ackbot: a linked user, linked on first contact when their Slack
profile email belongs to a directory user, or through the "link" sign-in (a user-scope OAuth
flow whose user token is kept, encrypted, on the link)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slack_bolt.error import BoltError
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.web.async_client import AsyncWebClient

from incidents.slack_identity import SlackIdentities
from storage.models import User

log = logging.getLogger("ackbot.slack")

LINKED_USER_NAME = "ackbot_user_name"


async def profile_email(client: AsyncWebClient, slack_user_id: str, token: str | None = None) -> str | None:
    """The email on the Slack user's profile, or None when Slack does not say (missing scope,
    no email, an API error)."""
    try:
        as_user: dict[str, Any] = {"token": token} if token else {}
        answer = await client.users_info(user=slack_user_id, **as_user)
    except SlackApiError as error:
        log.warning("users.info for %s failed: %s", slack_user_id, error.response.get("error"))
        return None
    return (answer.get("user") or {}).get("profile", {}).get("email") or None


class SlackIdentity:
    def __init__(self, identities: SlackIdentities):
        self.identities = identities
        self.clock: Callable[[], datetime] = identities.clock

    async def linked(self, slack_user_id: str) -> User | None:
        return await self.identities.linked(slack_user_id)

    async def user_for(self, client: AsyncWebClient, team_id: str | None, slack_user_id: str) -> User | None:
        """The Ackbot user behind ``slack_user_id``, linking them by profile email on first
        contact; None when they are not linked and their email matches nobody."""
        user = await self.linked(slack_user_id)
        if user is not None:
            return user
        email = await profile_email(client, slack_user_id)
        if email is None or team_id is None:
            return None
        return await self.identities.link_by_email(slack_user_id, team_id, email)


class LinkFlow(AsyncOAuthFlow):
    """The user-scope sign-in that links the signed-in Slack user to the directory user with their
    email. It stores no workspace installation: the user token goes onto the person's link."""

    def __init__(self, *, identities: SlackIdentities, **kwargs):
        super().__init__(**kwargs)
        self.identities = identities

    async def store_installation(self, request: AsyncBoltRequest, installation: Installation) -> None:
        email = await profile_email(self.client, installation.user_id, token=installation.user_token)
        if email is None:
            raise BoltError("Slack did not share the email of your account")
        if installation.team_id is None:
            raise BoltError("an organisation-wide sign-in names no workspace to link in")
        expires = installation.user_token_expires_at
        user = await self.identities.link_by_email(
            installation.user_id, installation.team_id, email, installation.user_token,
            installation.user_refresh_token, datetime.fromtimestamp(expires, UTC) if expires else None,
        )
        if user is None:
            raise BoltError(f"no Ackbot user has the email {email}")
        installation.custom_values[LINKED_USER_NAME] = user.name
