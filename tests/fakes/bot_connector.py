"""A fake of the Bot Framework's remote side: the Bot Connector (send and update activities,
member lookup), the bot's token endpoint, the user token service (OAuth sign-in), and the
OpenID metadata with the keys that sign the tokens Teams sends to the bot.

Tokens are RS256 JWTs signed with a test RSA key made here (``sign`` / ``channel_token``); the
JWKS served at ``/keys`` holds its public half, with the endorsements Teams keys carry.
Connector calls need ``Authorization: Bearer <a token this fake issued>``, as the real one does.
"""
from __future__ import annotations

import itertools
import json
import time
import uuid
from collections import deque

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.fakes.service import FakeService, Fault

ISSUER = "https://api.botframework.com"
KEY_ID = "test-key-1"
MESSAGE_SIZE_LIMIT = 28 * 1024  # Teams refuses bigger messages (413 MessageSizeTooBig)


def make_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeBotConnector(FakeService):
    def __init__(self, app_id: str, endorsements=("msteams",)):
        super().__init__()
        self.app_id = app_id
        self.key = make_key()
        self.endorsements = list(endorsements)
        self.activities: dict[str, dict] = {}
        self.members: dict[str, dict] = {}
        self.user_tokens: dict[tuple[str, str], dict] = {}
        self.magic_codes: dict[str, dict] = {}
        self.issued_tokens: list[str] = []
        self.token_lifetime = 3600
        self.token_faults: deque[Fault] = deque()
        self._ids = itertools.count(1)

    # --- what tests use ------------------------------------------------------------------

    @property
    def service_url(self) -> str:
        """The serviceUrl activities carry: this fake, with a path and trailing slash like Teams'."""
        return f"{self.url}/amer/"

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/v1/.well-known/openidconfiguration"

    @property
    def token_url(self) -> str:
        return f"{self.url}/botframework.com/oauth2/v2.0/token"

    def fail_token_next(self, *faults: Fault) -> None:
        """Fail the next token requests (``fail_next`` faults go to the connector's routes)."""
        self.token_faults.extend(faults)

    def sign(self, claims: dict, key: rsa.RSAPrivateKey | None = None, kid: str = KEY_ID) -> str:
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid})

    def channel_claims(self, **overrides) -> dict:
        """The claims of a token the Bot Framework channel sends with each activity."""
        now = int(time.time())
        claims = {
            "iss": ISSUER, "aud": self.app_id, "serviceurl": self.service_url,
            "nbf": now - 10, "iat": now - 10, "exp": now + 3600,
        }
        claims.update(overrides)
        return claims

    def channel_token(self, **overrides) -> str:
        return self.sign(self.channel_claims(**overrides))

    def auth_header(self, **overrides) -> dict:
        return {"Authorization": f"Bearer {self.channel_token(**overrides)}"}

    def posted(self) -> list[dict]:
        """Bodies of activities POSTed to any conversation (new messages and replies), in order."""
        return [request.json() for request in self.requests if request.method == "POST" and "/activities" in request.path]

    def updated(self) -> list[tuple[str, dict]]:
        """(path, body) of every PUT replacing an activity, in order."""
        return [(request.path, request.json()) for request in self.requests if request.method == "PUT"]

    # --- the routes ----------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/keys", self._keys)
        app.router.add_post("/botframework.com/oauth2/v2.0/token", self._token)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/metadata/identity/oauth2/token", self._managed_identity_token)
        app.router.add_post("/amer/v3/conversations/{conversation}/activities", self._post_activity)
        app.router.add_post("/amer/v3/conversations/{conversation}/activities/{reply_to}", self._post_activity)
        app.router.add_put("/amer/v3/conversations/{conversation}/activities/{activity}", self._put_activity)
        app.router.add_get("/amer/v3/conversations/{conversation}/members/{member}", self._member)
        app.router.add_get("/api/usertoken/GetToken", self._user_token)
        app.router.add_get("/api/botsignin/GetSignInResource", self._sign_in_resource)

    async def _metadata(self, request: web.Request) -> web.Response:
        return web.json_response({
            "issuer": ISSUER, "authorization_endpoint": "https://invalid.example/",
            "jwks_uri": f"{self.url}/keys", "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        })

    async def _keys(self, request: web.Request) -> web.Response:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update({"kid": KEY_ID, "use": "sig", "endorsements": self.endorsements})
        return web.json_response({"keys": [public]})

    async def _token(self, request: web.Request) -> web.Response:
        if (fault := await self.fault_or_none(request, self.token_faults)) is not None:
            return fault
        form = await request.post()
        if form.get("client_id") != self.app_id or form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.json_response(self._issue())

    async def _managed_identity_token(self, request: web.Request) -> web.Response:
        if request.headers.get("Metadata") != "true" or request.query.get("client_id") != self.app_id:
            return web.json_response({"error": "invalid_request"}, status=400)
        issued = self._issue()
        return web.json_response({**issued, "expires_in": str(issued["expires_in"])})

    def _issue(self) -> dict:
        token = f"bot-token-{uuid.uuid4().hex}"
        self.issued_tokens.append(token)
        return {"token_type": "Bearer", "expires_in": self.token_lifetime, "access_token": token}

    def _authorised(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme == "Bearer" and token in self.issued_tokens

    async def _post_activity(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": {"code": "Unauthorized", "message": "bad token"}}, status=401)
        if (fault := await self.fault_or_none(request)) is not None:
            return fault
        if len(await request.read()) > MESSAGE_SIZE_LIMIT:
            return web.json_response({"error": {"code": "MessageSizeTooBig", "message": "message too big"}}, status=413)
        activity_id = f"1:{next(self._ids)}"
        self.activities[activity_id] = await request.json()
        return web.json_response({"id": activity_id}, status=201)

    async def _put_activity(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": {"code": "Unauthorized", "message": "bad token"}}, status=401)
        if (fault := await self.fault_or_none(request)) is not None:
            return fault
        activity_id = request.match_info["activity"]
        if activity_id not in self.activities:
            return web.json_response({"error": {"code": "ActivityNotFound", "message": "no such activity"}}, status=404)
        self.activities[activity_id] = await request.json()
        return web.json_response({"id": activity_id})

    async def _member(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": {"code": "Unauthorized", "message": "bad token"}}, status=401)
        member = self.members.get(request.match_info["member"])
        if member is None:
            return web.json_response({"error": {"code": "MemberNotFoundInConversation", "message": "no"}}, status=404)
        return web.json_response(member)

    async def _user_token(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": {"code": "Unauthorized", "message": "bad token"}}, status=401)
        key = (request.query.get("userId"), request.query.get("connectionName"))
        code = request.query.get("code")
        if code and code in self.magic_codes:
            self.user_tokens[key] = self.magic_codes.pop(code)
        token = self.user_tokens.get(key)
        if token is None:
            return web.json_response({"error": {"code": "NotFound", "message": "no token"}}, status=404)
        return web.json_response({"channelId": request.query.get("channelId"), "connectionName": key[1], **token})

    async def _sign_in_resource(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": {"code": "Unauthorized", "message": "bad token"}}, status=401)
        return web.json_response({"signInLink": f"{self.url}/sign-in?state={request.query.get('state', '')[:20]}"})
