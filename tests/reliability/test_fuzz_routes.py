"""HTTP-level fuzzing of every public route, through create_app and aiohttp's test client, on
SQLite and PostgreSQL, with every surface switched on (Slack, Teams, Twilio, push; the remote
sides are the local fakes). Hypothesis makes the bodies, headers, query strings and path
segments; some requests carry valid credentials (an API key, a Slack signature, a Twilio
signature, a Bot Framework token), so the handlers behind the checks are fuzzed too.

Whatever arrives: no 5xx, and the captured logs hold no traceback, no ERROR, and nothing of the
request's body or headers (a canary is planted in both). Deterministic (derandomised, no example
database) and bounded (EXAMPLES per route and database).

To fuzz a new route, add a ``Route`` to ROUTES; ``test_every_route_is_fuzzed`` fails until every
route the application registers is listed.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from yarl import URL

from app import Secret, create_app
from bot.access_log import RedactingAccessLogger
from bot.app_keys import SERVICE_KEY, WEB_KEY
from bot.web.session import COOKIE as SESSION_COOKIE
from channels.push import generate_vapid_keys
from channels.registry import CHANNEL_TRAITS
from incidents import api_keys
from incidents.intake import TriggerRequest
from incidents.service import EngineConfig, IncidentService
from storage.database import database
from storage.enums import Channel
from storage.models import ChannelPreference, IntakeSignal, Team, TeamMember, User
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import CLIENT_ID, CLIENT_SECRET, FakeSlackAPI
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from tests.fakes.twilio_api import signed as twilio_signature
from tests.integration.slack_support import SIGNING_SECRET

EXAMPLES = 25
PUBLIC_URL = "http://ackbot.test"
TEAMS_APP_ID = "00000000-0000-0000-0000-00000000f022"
ALICE_PHONE = "+15550100001"
# Planted in bodies and header values: finding it in a log means a request leaked into it.
CANARY = "fuzzcanary7b3e"

# --- what requests are made of ----------------------------------------------------------------

texts = st.one_of(
    st.text(max_size=24), st.just(CANARY), st.sampled_from(["", "\x00", "1", "#1", "9" * 40, "ACK 1", "null", "[]"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=16,
)
# Bodies no generator would stumble on: deep nesting, numbers Python will not convert, bad escapes.
HOSTILE_BODIES = (
    b"", b"[]", b"null", b"42", b'"x"', b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000, b"9" * 5000,
    b'{"a": ' + b"9" * 5000 + b"}", b'{"a": NaN}', b'{"a": "\\ud800"}', b'{"a": "\\u0000"}', b"{" * 5000,
    b"payload=%5B%5D", b"payload=null", b"payload=42", b"payload=%22x%22", b"payload=%FF", b"a=%00&b",
)


def objects(names: tuple[str, ...]) -> st.SearchStrategy[dict]:
    """JSON objects using the route's own field names (and others), with any values."""
    return st.dictionaries(st.sampled_from(names) | texts, json_values, max_size=len(names) + 2)


@dataclass(frozen=True)
class Body:
    """What is sent: ``raw`` bytes and, for a form, its fields (what a signature covers)."""

    raw: bytes
    form: dict[str, str] | None = None

    def __repr__(self) -> str:  # failure reports stay readable when the body is 200 kB
        shown = self.raw if len(self.raw) <= 300 else self.raw[:300] + b"..."
        return f"Body({shown!r}, {len(self.raw)} bytes)"


def json_bodies(names: tuple[str, ...], shapes: st.SearchStrategy[dict] | None = None) -> st.SearchStrategy[Body]:
    documents = objects(names) if shapes is None else st.one_of(objects(names), shapes)
    return st.one_of(
        documents.map(lambda value: Body(json.dumps(value).encode())),
        json_values.map(lambda value: Body(json.dumps(value).encode())),
        st.sampled_from(HOSTILE_BODIES).map(Body),
        st.binary(max_size=64).map(Body),
    )


def form_bodies(fields: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[Body]:
    values = st.fixed_dictionaries({}, optional={name: strategy | texts for name, strategy in fields.items()})
    extra = st.dictionaries(texts, texts, max_size=2)
    forms = st.builds(lambda known, other: {**other, **known}, values, extra)
    return st.one_of(  # half the time a real form, which a signature can cover
        forms.map(lambda form: Body(urlencode(form).encode(), form)),
        st.one_of(st.sampled_from(HOSTILE_BODIES).map(Body), st.binary(max_size=64).map(Body)),
    )


NO_BODY = st.one_of(st.just(Body(b"")), st.binary(max_size=32).map(Body))

slack_payloads = objects(("type", "actions", "team", "user", "response_url", "container", "channel", "view",
                          "trigger_id", "api_app_id")).map(json.dumps)
slack_forms = form_bodies({
    "payload": slack_payloads, "command": st.just("/incident"), "text": st.sampled_from(["ack 1", "status 1", "list"]),
    "user_id": st.just("UALICE"), "team_id": st.just("T1"), "response_url": texts, "trigger_id": texts,
    "ssl_check": st.just("1"),
})
slack_bodies = st.one_of(slack_forms, json_bodies(("type", "event", "event_id", "team_id", "challenge", "token")))
teams_bodies = json_bodies(
    ("type", "id", "channelId", "serviceUrl", "from", "recipient", "conversation", "channelData", "value", "name", "text"),
    shapes=st.fixed_dictionaries(
        {"type": st.sampled_from(["message", "invoke", "conversationUpdate", "installationUpdate"]) | texts,
         "channelId": st.just("msteams"), "serviceUrl": st.just("{service_url}")},
        optional={"name": st.just("adaptiveCard/action") | texts, "text": texts, "value": json_values,
                  "from": json_values, "conversation": json_values, "channelData": json_values, "id": texts},
    ),
)
twilio_forms = form_bodies({
    "From": st.sampled_from([ALICE_PHONE, "+15559999999", ""]), "To": st.just(FROM_NUMBER),
    "Body": st.sampled_from(["ACK", "RES", "ACK 1", "STATUS 1", "TEST", "LIST", "HELP", "STOP"]),
    "MessageSid": st.sampled_from(["SM1", "SM2"]), "MessageStatus": st.sampled_from(["delivered", "failed", "sent"]),
    "ErrorCode": st.sampled_from(["30003", ""]), "CallSid": st.sampled_from(["CA1", "CA2"]),
    "CallStatus": st.sampled_from(["completed", "no-answer", "in-progress"]), "Digits": st.sampled_from(["1", "2", "9", "#"]),
})
intake_bodies = json_bodies(("title", "body", "priority", "service", "team", "dedup_key", "dashboard_url"))
alertmanager_bodies = json_bodies(
    ("version", "groupKey", "status", "alerts", "commonLabels", "commonAnnotations", "groupLabels", "externalURL",
     "truncatedAlerts"),
    shapes=st.fixed_dictionaries(
        {"version": st.just("4"), "groupKey": texts, "status": st.sampled_from(["firing", "resolved"]),
         "alerts": st.lists(objects(("status", "labels", "annotations", "generatorURL")), max_size=3)},
        optional={"commonLabels": st.dictionaries(st.sampled_from(["team", "severity", "service"]) | texts, texts),
                  "commonAnnotations": json_values, "truncatedAlerts": json_values},
    ),
)
push_bodies = json_bodies(("endpoint", "keys", "expirationTime"))
pagerduty_bodies = json_bodies(
    ("routing_key", "event_action", "dedup_key", "payload", "links", "images", "client", "client_url"),
    shapes=st.fixed_dictionaries(
        {"event_action": st.sampled_from(["trigger", "acknowledge", "resolve"]) | texts},
        optional={"dedup_key": texts, "payload": objects(("summary", "source", "severity", "custom_details", "group")),
                  "links": json_values, "images": json_values},
    ),
)
opsgenie_bodies = json_bodies(
    ("message", "alias", "description", "priority", "tags", "details", "entity", "source", "responders", "user", "note"),
    shapes=st.fixed_dictionaries(
        {"message": texts}, optional={"alias": texts, "priority": st.sampled_from(["P1", "P3", "P5"]) | texts,
                                      "details": json_values, "tags": json_values},
    ),
)
grafana_bodies = json_bodies(
    ("version", "status", "state", "alerts", "groupKey", "orgId", "ruleName", "ruleUrl", "evalMatches", "title",
     "message", "receiver", "commonLabels"),
    shapes=st.fixed_dictionaries(
        {"version": st.just("1"), "status": st.sampled_from(["firing", "resolved"]), "groupKey": texts,
         "alerts": st.lists(objects(("status", "labels", "annotations", "fingerprint", "values", "panelURL")), max_size=3)},
        optional={"orgId": json_values, "state": texts},
    ),
)
oncall_bodies = json_bodies(("alert_uid", "title", "image_url", "state", "link_to_upstream_details", "message", "alerts",
                             "status", "groupKey", "version"))
web_forms = form_bodies({"csrf": texts, "email": st.sampled_from(["alice@example.com", "nobody@example.com"]) | texts})
# Path segments where a query can fail instead of finding nothing: ids at and past PostgreSQL's
# 32-bit integers, and text no column holds. Each is also sent once with valid credentials.
EDGE_SEGMENTS = ("1", "2147483647", "2147483648", "999999999999", "9" * 40, "0", "%00", "%FF", "%2F", "..")
segments = st.one_of(
    st.sampled_from(EDGE_SEGMENTS), st.from_regex(r"[0-9]{1,12}", fullmatch=True),
    st.text(min_size=1, max_size=40).map(lambda text: quote(text, safe="")),
)
query_names = ("status", "team", "limit", "code", "state", "error", "token", "attempt")
queries = st.lists(st.tuples(st.sampled_from(query_names) | texts, texts), max_size=3).map(
    lambda pairs: "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in pairs)
)
CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x",
                 "application/x-www-form-urlencoded; charset=nonsense", "", "application/json; charset=utf-16")
header_values = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40), st.just(CANARY),
    st.sampled_from(["abc", "", "1e9", "-1", "Bearer ", "Bearer " + CANARY, "v0=" + "0" * 64]),
)
headers = st.dictionaries(
    st.sampled_from(["Authorization", "X-Slack-Request-Timestamp", "X-Slack-Signature", "X-Slack-Retry-Num",
                     "X-Twilio-Signature", "X-Forwarded-For", "X-Fuzz"]),
    header_values, max_size=3,
)
# The access log records the User-Agent (as `ackbot serve` writes it), so no canary goes there.
user_agents = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).filter(lambda text: CANARY not in text)


# --- the routes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """A public route as registered (``path`` with its ``{placeholders}``, as aiohttp's canonical
    form writes them), what its callers send, and how to make a request authentic (a name in
    ``Surfaces.signers``, or None for a route anyone may call)."""

    method: str
    path: str
    bodies: st.SearchStrategy[Body] = NO_BODY
    content_type: str | None = None
    signer: str | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    __repr__ = __str__


JSON, FORM = "application/json", "application/x-www-form-urlencoded"
ROUTES = (
    Route("GET", "/healthz"),
    Route("GET", "/metrics"),
    Route("POST", "/api/v1/incidents", intake_bodies, JSON, "api_key"),
    Route("GET", "/api/v1/incidents", signer="api_key"),
    Route("GET", "/api/v1/incidents/{number}", signer="api_key"),
    Route("POST", "/api/v1/incidents/{number}/acknowledge", intake_bodies, JSON, "api_key"),
    Route("POST", "/api/v1/incidents/{number}/resolve", intake_bodies, JSON, "api_key"),
    Route("POST", "/webhooks/alertmanager", alertmanager_bodies, JSON, "api_key"),
    Route("GET", "/a/{token}"),
    Route("POST", "/a/{token}", form_bodies({}), FORM),
    Route("GET", "/push/p/{token}"),
    Route("POST", "/push/subscriptions", push_bodies, JSON, "bearer"),
    Route("POST", "/push/act/{token}", push_bodies, JSON),
    Route("GET", "/push/sw.js"),
    Route("GET", "/push/push.js"),
    Route("GET", "/push/subscribe.js"),
    Route("GET", "/push/manifest.json"),
    Route("POST", "/twilio/sms", twilio_forms, FORM, "twilio"),
    Route("POST", "/twilio/sms/status", twilio_forms, FORM, "twilio"),
    Route("POST", "/twilio/voice/status", twilio_forms, FORM, "twilio"),
    Route("POST", "/twilio/voice/{notification}", twilio_forms, FORM, "twilio"),
    Route("POST", "/twilio/voice/{notification}/gather", twilio_forms, FORM, "twilio"),
    Route("POST", "/api/messages", teams_bodies, JSON, "teams"),
    Route("POST", "/slack/events", slack_bodies, FORM, "slack"),
    Route("GET", "/slack/install"),
    Route("GET", "/slack/link"),
    Route("GET", "/slack/oauth_redirect"),
    # Drop-in intake: PagerDuty, Opsgenie, Grafana, Grafana OnCall, heartbeats.
    Route("POST", "/v2/enqueue", pagerduty_bodies, JSON, "routing_key"),
    *(Route(method, prefix + suffix, bodies, JSON, "genie")
      for prefix in ("/v2/alerts", "/v2/alerts/v2/alerts")
      for method, suffix, bodies in (
          ("POST", "", opsgenie_bodies), ("POST", "/{identifier}/close", opsgenie_bodies),
          ("POST", "/{identifier}/acknowledge", opsgenie_bodies), ("PUT", "/{identifier}/message", opsgenie_bodies),
          ("PUT", "/{identifier}/description", opsgenie_bodies), ("GET", "/requests/{request_id}", NO_BODY))),
    Route("POST", "/webhooks/grafana", grafana_bodies, JSON, "api_key"),
    *(Route("POST", f"/integrations/v1/{{integration}}/{{key}}{end}", oncall_bodies, JSON) for end in ("", "/")),
    *(Route(method, path, oncall_bodies, JSON)
      for method in ("GET", "POST")
      for path in ("/heartbeats/{key}", "/heartbeats/{key}/", "/integrations/v1/{type}/{key}/heartbeat",
                   "/integrations/v1/{type}/{key}/heartbeat/")),
    # On-call schedules and calendar feeds.
    Route("GET", "/api/v1/oncall", signer="api_key"),
    Route("GET", "/api/v1/schedules/{name}/shifts", signer="api_key"),
    Route("GET", "/calendar/{token}.ics"),
    # The web view: signed in (a session cookie), and the sign-in pages anyone may open.
    Route("GET", "/signin"),
    Route("POST", "/signin", web_forms, FORM),
    Route("GET", "/signin/{token}"),
    Route("POST", "/signin/{token}", web_forms, FORM),
    Route("POST", "/signout", web_forms, FORM, "web"),
    *(Route("GET", path, signer="web") for path in ("/", "/incidents/{number}", "/oncall", "/people", "/me", "/log")),
    Route("POST", "/oncall/take", web_forms, FORM, "web"),
    Route("POST", "/incidents/{number}/{action}", web_forms, FORM, "web"),
    Route("POST", "/people/test", web_forms, FORM, "web"),
    Route("POST", "/me/test", web_forms, FORM, "web"),
    Route("POST", "/me/push", form_bodies({"csrf": texts, "subscription": texts}), FORM, "web"),
    # Unsigned only: signed in, the event stream of a visible incident stays open by design.
    Route("GET", "/incidents/{number}/live"),
    Route("GET", "/web/static"),
)


# --- the application under fuzz ----------------------------------------------------------------


@dataclass(repr=False)
class Surfaces:
    """The running application and what signs requests for it."""

    client: object
    api_key: str
    connector: FakeBotConnector
    secrets: tuple[str, ...] = field(default=())
    signers: dict[str, Callable] = field(default_factory=dict)


@pytest.fixture
async def slack_api():
    async with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture
async def connector():
    async with FakeBotConnector(TEAMS_APP_ID) as fake:
        yield fake


@pytest.fixture
async def surfaces(aiohttp_client, settings, slack_api, connector) -> Surfaces:
    return await _surfaces(aiohttp_client, settings, slack_api, connector)


@pytest.fixture
async def keeping_surfaces(aiohttp_client, settings, slack_api, connector) -> Surfaces:
    """``surfaces`` with every intake signal kept in the inbox (``ACKBOT_INTAKE_WAIT_MS=0``)."""
    return await _surfaces(aiohttp_client, settings.replace(intake_wait_ms=0), slack_api, connector)


async def _surfaces(aiohttp_client, settings, slack_api, connector) -> Surfaces:
    private_key, _ = generate_vapid_keys()
    configured = settings.replace(
        public_url=PUBLIC_URL,
        slack_client_id=CLIENT_ID, slack_client_secret=Secret(CLIENT_SECRET), slack_signing_secret=Secret(SIGNING_SECRET),
        slack_api_url=slack_api.url,
        teams_app_id=TEAMS_APP_ID, teams_app_password=Secret("bot-password"),
        teams_openid_metadata_url=connector.metadata_url, teams_token_url=connector.token_url,
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=Secret(AUTH_TOKEN), twilio_from_number=FROM_NUMBER,
        vapid_private_key=Secret(private_key),
    )
    server = TestServer(create_app(configured, channels={}))
    await server.start_server(access_log_class=RedactingAccessLogger)  # the access log `ackbot serve` writes
    client = await aiohttp_client(server)
    await _seed()
    api_key = await api_keys.ApiKeys().create("fuzz")
    surfaces = Surfaces(client, api_key, connector, secrets=(api_key, SIGNING_SECRET, AUTH_TOKEN, CLIENT_SECRET))
    signed_in = await client.app[WEB_KEY].sessions.sign_in(await _sign_in_token(client))
    surfaces.secrets += (signed_in.session_id,)
    surfaces.signers = {
        "api_key": lambda path, body: {"Authorization": f"Bearer {api_key}"},
        "routing_key": lambda path, body: {"X-Routing-Key": api_key},
        "genie": lambda path, body: {"Authorization": f"GenieKey {api_key}"},
        "web": lambda path, body: {"Cookie": f"{SESSION_COOKIE}={signed_in.session_id}"},
        "bearer": lambda path, body: {"Authorization": "Bearer not-a-registration-credential"},
        "slack": _slack_signature,
        "twilio": lambda path, body: twilio_signature(PUBLIC_URL + path, body.form or {}),
        "teams": lambda path, body: connector.auth_header(),
    }
    return surfaces


async def _sign_in_token(client) -> str:
    url, _ = await client.app[WEB_KEY].sessions.issue_link("alice")
    return url.rsplit("/", 1)[1]


async def _seed() -> None:
    """A team with Alice on SMS and voice, and an open incident that paged her (rows queued)."""
    team = await Team.acreate(name="payments", display_name="Payments")
    alice = await User.acreate(handle="alice", name="Alice", email="alice@example.com", phone=ALICE_PHONE)
    await TeamMember.acreate(team=team, user=alice)
    for channel in (Channel.SMS, Channel.VOICE):
        await ChannelPreference.acreate(user=alice, channel=channel, tier="primary")
    service = IncidentService(EngineConfig(enabled_channels=frozenset({Channel.SMS, Channel.VOICE}), channel_traits=CHANNEL_TRAITS))
    await service.trigger(TriggerRequest(title="DB primary down", team="payments"))


def _slack_signature(path: str, body: Body) -> dict:
    stamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + body.raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


# --- the properties ----------------------------------------------------------------------------


def _leaks(records: list[logging.LogRecord], body: Body, secrets: tuple[str, ...], authentic: bool) -> list[str]:
    """What the log records show that they must not: tracebacks, the request's content, and
    for a request without valid credentials any ERROR (an outsider must not look like an outage)."""
    problems = []
    body_text = body.raw.decode("utf-8", "replace")
    for record in records:
        message = record.getMessage()
        if record.exc_info or record.exc_text or "Traceback" in message:
            problems.append(f"traceback from {record.name}: {message[:200]}")
        if record.levelno >= logging.ERROR and not authentic:
            problems.append(f"{record.levelname} from {record.name}: {message[:200]}")
        if CANARY in message or any(secret in message for secret in secrets):
            problems.append(f"request content or a secret in a log line from {record.name}: {message[:200]}")
        if len(body_text) >= 24 and body_text in message:
            problems.append(f"the request body in a log line from {record.name}")
    return problems


def _fill(path: str, segment: str) -> str:
    parts = path.split("/")
    return "/".join(segment if part.startswith("{") else part for part in parts)


@pytest.mark.parametrize("route", ROUTES, ids=str)
@hypothesis_settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_no_request_gets_a_5xx_or_leaks_into_the_logs(surfaces, caplog, route, data):
    await _fuzz_once(surfaces, caplog, route, data)


_titles = st.text(min_size=1, max_size=40) | st.just(CANARY)
_severity = st.sampled_from(["critical", "error", "warning", "info"]) | texts
# Well-formed bodies (mostly) with any text where a sender's text goes: what the inbox keeps.
WELL_FORMED = {
    "/api/v1/incidents": st.fixed_dictionaries(
        {"title": _titles},
        optional={"body": texts, "priority": st.sampled_from(["critical", "high", "low"]), "service": texts,
                  "team": texts, "dedup_key": texts, "labels": st.dictionaries(texts, texts, max_size=3)},
    ),
    "/webhooks/alertmanager": st.fixed_dictionaries({
        "version": st.just("4"), "groupKey": texts, "status": st.sampled_from(["firing", "resolved"]),
        "receiver": st.just("ackbot"), "externalURL": st.just("http://alertmanager:9093"),
        "groupLabels": st.just({}), "commonAnnotations": st.dictionaries(texts, texts, max_size=2),
        "commonLabels": st.fixed_dictionaries({"alertname": _titles}, optional={"severity": _severity, "team": texts}),
        "alerts": st.lists(st.fixed_dictionaries({
            "status": st.sampled_from(["firing", "resolved"]), "fingerprint": texts,
            "labels": st.fixed_dictionaries({"alertname": _titles}, optional={"instance": texts}),
            "annotations": st.dictionaries(texts, texts, max_size=2),
            "startsAt": st.just("2026-12-02T10:00:00Z"), "endsAt": st.just("0001-01-01T00:00:00Z"),
            "generatorURL": st.just(""),
        }), min_size=1, max_size=3),
    }),
    "/v2/enqueue": st.fixed_dictionaries(
        {"event_action": st.sampled_from(["trigger", "acknowledge", "resolve"]), "dedup_key": texts,
         "payload": st.fixed_dictionaries({"summary": _titles, "source": texts, "severity": _severity},
                                          optional={"custom_details": st.dictionaries(texts, texts, max_size=3)})},
    ),
}
INTAKE_ROUTES = [route for route in ROUTES if route.method == "POST" and route.path in WELL_FORMED]


@pytest.mark.parametrize("route", INTAKE_ROUTES, ids=str)
@hypothesis_settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_intake_kept_in_the_inbox_gets_no_5xx_and_every_kept_signal_is_worked(keeping_surfaces, caplog, route, data):
    bodies = WELL_FORMED[route.path].map(lambda value: Body(json.dumps(value).encode())) | route.bodies
    await _fuzz_once(keeping_surfaces, caplog, route, data, bodies)
    async with asyncio.timeout(10):
        while keeping_surfaces.client.app[SERVICE_KEY].inbox.active:
            await asyncio.sleep(0.01)
    failed = await database.count(IntakeSignal.select().where(IntakeSignal.failed_at.is_null(False)))
    assert failed == 0, f"{route}: a kept signal could not be worked"


async def _fuzz_once(surfaces, caplog, route, data, bodies: st.SearchStrategy[Body] | None = None) -> None:
    body = data.draw(bodies or route.bodies, "body")
    path = _fill(route.path, data.draw(segments, "segment")) if "{" in route.path else route.path
    query = data.draw(queries, "query")
    sent_headers = {"X-Fuzz": CANARY}
    if route.content_type is not None:
        sent_headers["Content-Type"] = route.content_type
    if data.draw(st.sampled_from([False, False, False, True]), "other content type"):
        sent_headers["Content-Type"] = data.draw(st.sampled_from(CONTENT_TYPES), "content type")
    target = f"{path}?{query}" if query else path
    # Mostly authentic: the checks refuse the rest at once, and the handlers behind them are the ones to fuzz.
    authentic = bool(route.signer) and data.draw(st.sampled_from([True, True, True, False]), "authentic")
    if authentic:
        raw = body.raw.replace(b"{service_url}", surfaces.connector.service_url.encode())
        body = Body(raw, body.form)
        sent_headers.update(surfaces.signers[route.signer](target, body))
    sent_headers.update(data.draw(headers, "headers"))
    sent_headers["User-Agent"] = data.draw(user_agents, "user agent")

    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = await surfaces.client.request(
            route.method, URL(target, encoded=True), data=body.raw, headers=sent_headers, allow_redirects=False,
        )
        text = await response.text(errors="replace")
    assert response.status < 500, f"{route} {target!r} answered {response.status}: {text[:300]}"
    assert "Traceback" not in text
    problems = _leaks(caplog.records, body, surfaces.secrets, authentic)
    assert not problems, "\n".join(problems)


_KEYPRESS = {"CallSid": "CA9", "Digits": "1"}
MINIMAL_BODIES = {JSON: Body(b"{}"), FORM: Body(urlencode(_KEYPRESS).encode(), _KEYPRESS)}


@pytest.mark.parametrize("route", [route for route in ROUTES if "{" in route.path], ids=str)
async def test_edge_path_segments_with_valid_credentials_get_no_5xx(surfaces, caplog, route):
    body = MINIMAL_BODIES.get(route.content_type, Body(b""))
    for segment in EDGE_SEGMENTS:
        target = _fill(route.path, segment)
        sent_headers = {"Content-Type": route.content_type} if route.content_type else {}
        if route.signer:
            sent_headers.update(surfaces.signers[route.signer](target, body))
        caplog.clear()
        with caplog.at_level(logging.INFO):
            response = await surfaces.client.request(
                route.method, URL(target, encoded=True), data=body.raw, headers=sent_headers, allow_redirects=False,
            )
            text = await response.text(errors="replace")
        assert response.status < 500, f"{route} {target!r} answered {response.status}: {text[:300]}"
        problems = _leaks(caplog.records, body, surfaces.secrets, authentic=bool(route.signer))
        assert not problems, "\n".join(problems)


def test_every_route_is_fuzzed(settings):
    app = create_app(settings.replace(slack_client_id=CLIENT_ID, slack_client_secret=Secret(CLIENT_SECRET),
                                      slack_signing_secret=Secret(SIGNING_SECRET)), channels={})
    registered = {
        (route.method, route.resource.canonical) for route in app.router.routes() if route.method != "HEAD"
    }
    fuzzed = {(route.method, route.path) for route in ROUTES}
    assert registered - fuzzed == set(), "add these routes to ROUTES"
    assert fuzzed - registered == set(), "these ROUTES are not registered"
