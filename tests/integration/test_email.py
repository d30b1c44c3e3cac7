"""Email pages through a real SMTP server, and their one-time action links as a person and as a
link scanner would follow them. Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
import re

import pytest

from app import Secret, create_app
from bot.app_keys import DISPATCHER_KEY, SERVICE_KEY
from incidents.intake import TriggerRequest
from incidents.service import Actor
from storage.database import database
from storage.models import Incident, IncidentEvent, MagicLinkToken, NotificationLog, Team, TeamMember, User
from tests.fakes.channel import FixedClock
from tests.fakes.smtp_server import PASSWORD, USERNAME, SmtpServer, make_certificate

LINK = re.compile(r"(Acknowledge|Resolve): (http://ackbot\.test/a/(\S+))")


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


def email_settings(settings, server, **extra):
    values = dict(smtp_host="127.0.0.1", smtp_port=server.port, smtp_starttls=False,
                  email_from="Ackbot <pages@ackbot.test>")
    return settings.replace(**{**values, **extra})


async def _page_alice(client, clock=None):
    team = await Team.acreate(name="payments", display_name="Payments")
    alice = await User.acreate(handle="alice", name="Alice", email="alice@example.com", time_zone="Europe/Berlin")
    await TeamMember.acreate(team=team, user=alice)
    service = client.app[SERVICE_KEY]
    incident = (await service.trigger(TriggerRequest(
        title="DB primary down", body="replica lag 900s", priority="CRITICAL", service="db", team="payments",
        dashboard_url="https://grafana.example/d/db",
    ))).incident
    await client.app[DISPATCHER_KEY].run_once()
    return incident


def _links(message) -> dict[str, str]:
    text = message.get_body(("plain",)).get_content()
    return {label.lower(): token for label, _, token in LINK.findall(text)}


async def _status(incident_id):
    return (await Incident.aget_by_id(incident_id)).status


@pytest.fixture
async def paged(aiohttp_client, settings, smtp):
    clock = FixedClock()
    client = await aiohttp_client(create_app(email_settings(settings, smtp), clock=clock))
    incident = await _page_alice(client)
    client.clock = clock
    return client, incident, smtp.messages[0]


async def test_the_page_is_multipart_with_every_fact_and_working_links(paged):
    client, incident, message = paged
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == f"[CRITICAL] #{incident.id} db: DB primary down"
    assert message["To"] == "alice@example.com"
    text = message.get_body(("plain",)).get_content()
    for fact in ("Priority: CRITICAL", "Service: db", "Team: Payments", "Alerts: 1", "Escalation level: 1",
                 "Triggered: Sat 28 Nov 2026, 15:00 CET", "replica lag 900s", "Dashboard: https://grafana.example/d/db"):
        assert fact in text
    html = message.get_body(("html",)).get_content()
    assert "#b00020" in html and 'href="https://grafana.example/d/db"' in html
    links = _links(message)
    assert set(links) == {"acknowledge", "resolve"}
    assert all(f"/a/{token}" in html for token in links.values())
    row = (await database.list(NotificationLog.select()))[0]
    assert (row.status, row.provider_id) == ("SENT", message["Message-ID"])


async def test_only_hashes_of_tokens_are_stored(paged):
    _, _, message = paged
    stored = {row.token_hash for row in await database.list(MagicLinkToken.select())}
    assert len(stored) == 2
    assert not set(_links(message).values()) & stored


async def test_a_scanner_following_the_link_changes_nothing(paged):
    client, incident, message = paged
    token = _links(message)["acknowledge"]
    for method in ("HEAD", "GET", "GET"):
        response = await client.request(method, f"/a/{token}")
        assert response.status == 200
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
    page = await (await client.get(f"/a/{token}")).text()
    assert f"Acknowledge #{incident.id}?" in page and '<form method="post">' in page
    assert "<script" not in page
    assert await _status(incident.id) == "TRIGGERED"
    assert [row.used for row in await database.list(MagicLinkToken.select())] == [False, False]


async def test_the_button_acknowledges_exactly_once(paged):
    client, incident, message = paged
    token = _links(message)["acknowledge"]
    done = await client.post(f"/a/{token}")
    assert done.status == 200 and "acknowledged by Alice via email" in await done.text()
    stored = await Incident.aget_by_id(incident.id)
    assert (stored.status, stored.acknowledged_by_name, stored.acknowledged_via) == ("ACKNOWLEDGED", "Alice", "EMAIL")
    again = await client.post(f"/a/{token}")
    assert "This link was already used" in await again.text()
    events = await database.list(IncidentEvent.select().where(IncidentEvent.kind == "ACKNOWLEDGED"))
    assert len(events) == 1


async def test_a_concurrent_double_post_acts_once(paged):
    client, incident, message = paged
    token = _links(message)["resolve"]
    responses = await asyncio.gather(*(client.post(f"/a/{token}") for _ in range(4)))
    bodies = [await response.text() for response in responses]
    assert sum("<title>Done</title>" in body for body in bodies) == 1
    assert await _status(incident.id) == "RESOLVED"
    assert len(await database.list(IncidentEvent.select().where(IncidentEvent.kind == "RESOLVED"))) == 1


async def test_expired_and_unknown_links_get_the_same_neutral_page(paged):
    client, incident, message = paged
    unknown = await client.get("/a/" + "x" * 43)
    client.clock.advance(hours=24, seconds=1)
    expired_get = await client.get(f"/a/{_links(message)['acknowledge']}")
    expired_post = await client.post(f"/a/{_links(message)['acknowledge']}")
    assert unknown.status == expired_get.status == expired_post.status == 404
    assert await unknown.text() == await expired_get.text() == await expired_post.text()
    assert await _status(incident.id) == "TRIGGERED"


async def test_links_are_void_once_the_incident_is_resolved(paged):
    client, incident, message = paged
    await client.app[SERVICE_KEY].resolve(incident.id, Actor("Bob", "SLACK"))
    response = await client.post(f"/a/{_links(message)['acknowledge']}")
    assert "This incident is resolved" in await response.text()
    stored = await Incident.aget_by_id(incident.id)
    assert (stored.status, stored.acknowledged_at) == ("RESOLVED", None)


async def test_people_paged_by_email_get_a_threaded_status_notice(paged, smtp):
    client, incident, message = paged
    await client.app[SERVICE_KEY].acknowledge(incident.id, Actor("Bob", "SLACK"))
    await client.app[DISPATCHER_KEY].run_once()
    notice = smtp.messages[-1]
    assert notice["Subject"] == f"[ACKNOWLEDGED] #{incident.id} db: DB primary down"
    assert notice["In-Reply-To"] == message["Message-ID"]
    text = notice.get_body(("plain",)).get_content()
    assert text.startswith("Acknowledged by Bob via Slack at Sat 28 Nov 2026, 15:00 CET")
    assert set(_links(notice)) == {"resolve"}


@pytest.mark.parametrize("reply, status", [("550 5.1.1 no such user", "FAILED"), ("451 4.3.0 try again later", "QUEUED")])
async def test_smtp_replies_are_classified(aiohttp_client, settings, smtp, reply, status):
    smtp.handler.rcpt_reply = reply
    client = await aiohttp_client(create_app(email_settings(settings, smtp)))
    await _page_alice(client)
    row = (await database.list(NotificationLog.select()))[0]
    assert row.status == status and reply.split()[0] in row.error


async def test_an_unreachable_smtp_server_is_a_temporary_failure(aiohttp_client, settings):
    server = SmtpServer()
    client = await aiohttp_client(create_app(email_settings(settings, server)))
    await _page_alice(client)
    row = (await database.list(NotificationLog.select()))[0]
    assert row.status == "QUEUED" and "unreachable" in row.error


async def test_starttls_and_auth(aiohttp_client, settings, tmp_path):
    cert, key = make_certificate(tmp_path)
    with SmtpServer(tls_files=(cert, key)) as server:
        configured = email_settings(settings, server, smtp_starttls=True, smtp_ca_file=str(cert),
                                    smtp_username=USERNAME, smtp_password=Secret(PASSWORD))
        client = await aiohttp_client(create_app(configured))
        await _page_alice(client)
        assert len(server.messages) == 1 and server.messages[0]["To"] == "alice@example.com"
        row = (await database.list(NotificationLog.select()))[0]
        assert row.status == "SENT"


async def test_a_wrong_smtp_password_fails_without_showing_it(aiohttp_client, settings, tmp_path):
    cert, key = make_certificate(tmp_path)
    with SmtpServer(tls_files=(cert, key)) as server:
        configured = email_settings(settings, server, smtp_starttls=True, smtp_ca_file=str(cert),
                                    smtp_username=USERNAME, smtp_password=Secret("wrong-password"))
        client = await aiohttp_client(create_app(configured))
        await _page_alice(client)
        row = (await database.list(NotificationLog.select()))[0]
        assert row.status == "FAILED" and "535" in row.error and "wrong-password" not in row.error
