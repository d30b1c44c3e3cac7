"""A fake Slack Web API: the methods Ackbot calls, answering like Slack (HTTP 200 with
``{"ok": false, "error": …}`` for API errors, 429 ``ratelimited`` with Retry-After through
``fail_next``), plus the ``response_url`` endpoints Slack gives interactive requests.

It keeps the workspace's state: which tokens are valid, which users exist (with their emails),
which messages were posted and with which workspace's token (so ``chat.update`` of an unknown
message fails as on Slack), private channels the bot is not in, and the OAuth codes an install or
link sign-in can exchange.
"""
from __future__ import annotations

import base64
import itertools
import json
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.service import FakeService

CLIENT_ID = "111.222"
CLIENT_SECRET = "client-secret-for-tests"


@dataclass
class TokenInfo:
    team_id: str
    user_id: str
    bot_id: str | None = None


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list = field(default_factory=list)
    updates: int = 0
    team_id: str = ""


class FakeSlackAPI(FakeService):
    def __init__(self, team_id: str = "T1", team_name: str = "Acme"):
        super().__init__()
        self.team_id = team_id
        self.team_name = team_name
        self.tokens: dict[str, TokenInfo] = {}
        self.users: dict[str, dict] = {}
        self.messages: dict[tuple[str, str], Message] = {}
        self.codes: dict[str, dict] = {}
        self.responses: list[dict] = []
        self.closed_channels: set[str] = set()
        self._ts = itertools.count(1)

    # --- setting the scene ---------------------------------------------------------------------

    def add_bot_token(self, token: str = "xoxb-fake-bot-token", team_id: str | None = None) -> str:
        self.tokens[token] = TokenInfo(team_id or self.team_id, "UBOT", bot_id="B1")
        return token

    def add_user(self, slack_user_id: str, name: str, email: str | None = None, email_shared: bool = True) -> None:
        """A workspace member. Without ``email_shared`` the bot does not see their email (the app
        lacks users:read.email there); their own user token still does."""
        self.users[slack_user_id] = {"name": name, "email": email, "email_shared": email_shared}

    def install_code(self, code: str = "install-code", bot_token: str = "xoxb-installed-bot", **extra) -> str:
        """An OAuth code that installs the app: exchanging it gives ``bot_token`` (valid from then on)."""
        self.codes[code] = {
            "ok": True, "app_id": "A1", "access_token": bot_token, "token_type": "bot", "scope": "chat:write,commands",
            "bot_user_id": "UBOT", "team": {"id": self.team_id, "name": self.team_name}, "enterprise": None,
            "is_enterprise_install": False, "authed_user": {"id": "UINSTALLER"}, **extra,
        }
        return code

    def link_code(self, slack_user_id: str, user_token: str, code: str = "link-code") -> str:
        """An OAuth code from a user-scope sign-in by ``slack_user_id``."""
        self.codes[code] = {
            "ok": True, "app_id": "A1", "team": {"id": self.team_id, "name": self.team_name}, "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": slack_user_id, "scope": "users:read,users:read.email", "access_token": user_token,
                            "token_type": "user"},
        }
        return code

    def close_channel(self, channel: str) -> None:
        """A private channel the bot was not invited to: posts there fail with not_in_channel."""
        self.closed_channels.add(channel)

    def response_url(self, name: str = "r1") -> str:
        return f"{self.url}/response/{name}"

    # --- what happened -------------------------------------------------------------------------

    def calls(self, method: str) -> list[dict]:
        """The arguments of every call to ``method`` (e.g. "chat.update"), oldest first."""
        return [_arguments(request) for request in self.requests_to(f"/{method}")]

    def message(self, channel: str, ts: str) -> Message:
        return self.messages[(channel, ts)]

    # --- the API -------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_route("*", "/{method}", self._api)

    async def _response_url(self, request: web.Request) -> web.Response:
        fault = await self.fault_or_none(request)
        if fault is not None:
            return fault
        answer = json.loads(await request.read())
        if not _blocks_within_limits(answer.get("blocks") or []):
            return web.Response(status=400, text="invalid_blocks")
        self.responses.append({"name": request.match_info["name"], **answer})
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        fault = await self.fault_or_none(request)
        if fault is not None:
            return fault
        method = request.match_info["method"]
        arguments = await _live_arguments(request)
        if method == "oauth.v2.access":
            return self._oauth(request, arguments)
        caller = self.tokens.get(_bearer(request) or arguments.get("token", ""))
        if caller is None:
            return _error("invalid_auth" if _bearer(request) else "not_authed")
        handler = {
            "auth.test": self._auth_test, "conversations.open": self._open, "chat.postMessage": self._post,
            "chat.update": self._update, "chat.postEphemeral": self._ephemeral, "users.info": self._user_info,
        }.get(method)
        if handler is None:
            return _error("unknown_method", status=404)
        return handler(caller, arguments)

    def _auth_test(self, caller: TokenInfo, arguments: dict) -> web.Response:
        return _ok(
            url=f"https://{caller.team_id.lower()}.slack.test/", team=self.team_name, user="ackbot",
            team_id=caller.team_id, user_id=caller.user_id, bot_id=caller.bot_id, is_enterprise_install=False,
        )

    def _open(self, caller: TokenInfo, arguments: dict) -> web.Response:
        user = arguments.get("users", "")
        if user not in self.users:
            return _error("user_not_found")
        return _ok(channel={"id": f"D{user}"})

    def _post(self, caller: TokenInfo, arguments: dict) -> web.Response:
        channel = arguments.get("channel", "")
        if not channel:
            return _error("channel_not_found")
        if channel in self.closed_channels:
            return _error("not_in_channel")
        ts = f"{1_800_000_000 + next(self._ts)}.000100"
        self.messages[(channel, ts)] = Message(
            channel, ts, arguments.get("text", ""), _blocks(arguments), team_id=caller.team_id
        )
        return _ok(channel=channel, ts=ts, message={"text": arguments.get("text", ""), "ts": ts})

    def _update(self, caller: TokenInfo, arguments: dict) -> web.Response:
        message = self.messages.get((arguments.get("channel", ""), arguments.get("ts", "")))
        if message is None:
            return _error("message_not_found")
        message.text, message.blocks = arguments.get("text", ""), _blocks(arguments)
        message.updates += 1
        return _ok(channel=message.channel, ts=message.ts, text=message.text)

    def _ephemeral(self, caller: TokenInfo, arguments: dict) -> web.Response:
        return _ok(message_ts=f"{1_800_000_000 + next(self._ts)}.000200")

    def _user_info(self, caller: TokenInfo, arguments: dict) -> web.Response:
        user_id = arguments.get("user", "")
        user = self.users.get(user_id)
        if user is None:
            return _error("user_not_found")
        sees_email = user["email"] and (user["email_shared"] or caller.user_id == user_id)
        profile = {"real_name": user["name"], **({"email": user["email"]} if sees_email else {})}
        return _ok(user={"id": user_id, "team_id": self.team_id, "name": user["name"].lower(), "profile": profile})

    def _oauth(self, request: web.Request, arguments: dict) -> web.Response:
        client_id, client_secret = _basic_auth(request) or (arguments.get("client_id"), arguments.get("client_secret"))
        if client_id != CLIENT_ID:
            return _error("invalid_client_id")
        if client_secret != CLIENT_SECRET:
            return _error("bad_client_secret")
        if arguments.get("grant_type") == "refresh_token":
            return self._refresh(arguments.get("refresh_token", ""))
        answer = self.codes.pop(arguments.get("code", ""), None)
        if answer is None:
            return _error("invalid_code")
        if answer.get("access_token"):
            self.tokens[answer["access_token"]] = TokenInfo(self.team_id, answer["bot_user_id"], bot_id="B1")
        user = answer["authed_user"]
        if user.get("access_token"):
            self.tokens[user["access_token"]] = TokenInfo(self.team_id, user["id"])
        return web.json_response(answer)

    def _refresh(self, refresh_token: str) -> web.Response:
        if not refresh_token.startswith("xoxe-"):
            return _error("invalid_refresh_token")
        token = f"xoxe.xoxb-rotated-{next(self._ts)}"
        self.tokens[token] = TokenInfo(self.team_id, "UBOT", bot_id="B1")
        return _ok(access_token=token, refresh_token=refresh_token, expires_in=43200, token_type="bot")


def _arguments(request) -> dict:
    arguments = dict(request.query)
    arguments.update(request.form)
    if request.body and request.headers.get("Content-Type", "").startswith("application/json"):
        arguments.update(json.loads(request.body))
    return arguments


async def _live_arguments(request: web.Request) -> dict:
    arguments = dict(request.query)
    if request.content_type == "application/x-www-form-urlencoded":
        arguments.update(await request.post())
    elif request.content_type == "application/json":
        arguments.update(json.loads(await request.read() or b"{}"))
    return arguments


def _blocks_within_limits(blocks: list) -> bool:
    """Slack refuses messages over 50 blocks, header text over 150 and section or context text over 3000 characters."""
    texts = [(block["text"]["text"], 150 if block["type"] == "header" else 3000) for block in blocks if "text" in block]
    texts += [(element["text"], 3000) for block in blocks if block["type"] == "context" for element in block["elements"]]
    context_sizes = [len(block["elements"]) for block in blocks if block["type"] == "context"]
    return len(blocks) <= 50 and all(len(text) <= limit for text, limit in texts) and all(size <= 10 for size in context_sizes)


def _blocks(arguments: dict) -> list:
    blocks = arguments.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _basic_auth(request: web.Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    return client_id, secret


def _ok(**values) -> web.Response:
    return web.json_response({"ok": True, **values})


def _error(error: str, status: int = 200) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status)
