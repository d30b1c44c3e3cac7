"""The Bot Framework REST APIs the Teams bot calls, with aiohttp and the bot's own token: the
Bot Connector (replies, updates, deletions, member lookups under ``{serviceUrl}/v3/conversations``)
and the user token service (OAuth sign-in).

Every failure — the service unreachable, an error status, the bot's token unobtainable — is a
``ConnectorError`` naming the call and status, never echoing a token.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp

from channels.teams import BotFrameworkToken, TokenError

# Teams waits about 15 seconds for the answer to an activity; no call may outlast it.
CALL_TIMEOUT = aiohttp.ClientTimeout(total=10)


class ConnectorError(Exception):
    """A Bot Framework call failed; ``status`` is the HTTP status when there was an answer."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class UserToken:
    token: str
    expiration: str | None


class _Api:
    """Authorised JSON calls to one Bot Framework service."""

    def __init__(self, session: aiohttp.ClientSession, token: BotFrameworkToken):
        self._session = session
        self._token = token

    async def call(self, method: str, url: str, body: dict | None = None, params: dict | None = None,
                   not_found: bool = False) -> dict | None:
        """The JSON answer ({} when there is none); None for a 404 when ``not_found`` allows it."""
        try:
            headers = {"Authorization": f"Bearer {await self._token.get()}"}
            async with self._session.request(method, url, json=body, params=params, headers=headers,
                                             timeout=CALL_TIMEOUT) as response:
                if response.status == 404 and not_found:
                    return None
                if response.status == 401:
                    self._token.forget()
                if response.status >= 400:
                    raise ConnectorError(f"{method} {_route(url)} answered HTTP {response.status}", response.status)
                text = await response.text()
        except TokenError as error:
            raise ConnectorError(f"no bot token for {method} {_route(url)}: {error}") from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ConnectorError(f"{method} {_route(url)} failed: {type(error).__name__}") from None
        try:
            answer = json.loads(text) if text else {}
        except ValueError:
            answer = {}
        return answer if isinstance(answer, dict) else {}


def _route(url: str) -> str:
    """The URL without its query (which may carry a magic code)."""
    return url.split("?", 1)[0]


class BotConnector:
    """``{serviceUrl}/v3/conversations/{id}/…`` of the conversation an activity came from."""

    def __init__(self, session: aiohttp.ClientSession, token: BotFrameworkToken):
        self._api = _Api(session, token)

    async def send(self, service_url: str, conversation_id: str, activity: dict, reply_to_id: str | None = None) -> str:
        """Post ``activity`` (as a reply to ``reply_to_id`` when given); returns its id."""
        answer = await self._api.call("POST", _conversation_url(service_url, conversation_id, "activities", reply_to_id),
                                      activity)
        return str((answer or {}).get("id") or "")

    async def update(self, service_url: str, conversation_id: str, activity_id: str, activity: dict) -> None:
        await self._api.call("PUT", _conversation_url(service_url, conversation_id, "activities", activity_id), activity)

    async def delete(self, service_url: str, conversation_id: str, activity_id: str) -> None:
        await self._api.call("DELETE", _conversation_url(service_url, conversation_id, "activities", activity_id))

    async def member(self, service_url: str, conversation_id: str, member_id: str) -> dict:
        """The conversation member's account (``email``, ``userPrincipalName``, …)."""
        return await self._api.call("GET", _conversation_url(service_url, conversation_id, "members", member_id)) or {}


def _conversation_url(service_url: str, conversation_id: str, collection: str, item: str | None = None) -> str:
    url = f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}/{collection}"
    return f"{url}/{quote(item, safe='')}" if item else url


class UserTokenService:
    """The Bot Framework token service at ``base_url``: the tokens people got by signing in
    through the bot's OAuth connection, and the sign-in links that get them."""

    def __init__(self, session: aiohttp.ClientSession, token: BotFrameworkToken, base_url: str, app_id: str):
        self._api = _Api(session, token)
        self._base_url = base_url.rstrip("/")
        self._app_id = app_id

    async def user_token(self, user_id: str, connection_name: str, channel_id: str,
                         magic_code: str | None = None) -> UserToken | None:
        """The person's token, or None when they have not signed in (or the code is wrong)."""
        params = {"userId": user_id, "connectionName": connection_name, "channelId": channel_id}
        if magic_code:
            params["code"] = magic_code
        answer = await self._api.call("GET", f"{self._base_url}/api/usertoken/GetToken", params=params, not_found=True)
        if not answer or not isinstance(answer.get("token"), str):
            return None
        expiration = answer.get("expiration")
        return UserToken(answer["token"], expiration if isinstance(expiration, str) else None)

    async def sign_in_link(self, connection_name: str, reference: dict, relates_to: dict | None) -> str:
        """The link that signs the person in; the token service sends the outcome to the
        conversation ``reference`` (the serialised ConversationReference)."""
        state = {"connectionName": connection_name, "conversation": reference, "relatesTo": relates_to,
                 "msAppId": self._app_id}
        encoded = base64.b64encode(json.dumps(state).encode()).decode()
        answer = await self._api.call("GET", f"{self._base_url}/api/botsignin/GetSignInResource",
                                      params={"state": encoded})
        link = (answer or {}).get("signInLink")
        if not isinstance(link, str) or not link:
            raise ConnectorError("the token service answered without a sign-in link")
        return link
