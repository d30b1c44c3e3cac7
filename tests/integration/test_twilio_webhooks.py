"""The Twilio webhooks through the real application, on SQLite and PostgreSQL: signed requests
act, anything else is refused and changes nothing; SMS replies, the voice menu and delivery
receipts as Twilio sends them."""
from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest

from app import Secret, create_app
from bot.app_keys import DISPATCHER_KEY, SERVICE_KEY
from bot.phone_replies import CALL_GONE, NEUTRAL_REPLY, SMS_HELP
from incidents.intake import TriggerRequest
from storage.database import database
from storage.enums import Channel
from storage.models import ChannelPreference, Incident, IncidentEvent, NotificationLog, Team, TeamMember, User
from tests.fakes.channel import FixedClock, ScriptedChannel
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, SECONDARY_TOKEN, signed

PUBLIC_URL = "http://ackbot.test"
ALICE, BOB, OLIVIA, SHARED = "+15550100001", "+15550100002", "+15550100003", "+15550100009"


@pytest.fixture
async def phone(aiohttp_client, settings):
    """Alice paged for #1 on SMS and voice at once; Bob on the team, Olivia not; two people share
    one number."""
    settings = settings.replace(
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=Secret(AUTH_TOKEN),
        twilio_auth_token_secondary=Secret(SECONDARY_TOKEN), twilio_from_number=FROM_NUMBER,
    )
    channels = {channel: ScriptedChannel(channel) for channel in (Channel.EMAIL, Channel.SMS, Channel.VOICE)}
    client = await aiohttp_client(create_app(settings, channels=channels, clock=FixedClock()))
    team = await Team.acreate(name="payments", display_name="Payments")
    client.alice = await User.acreate(handle="alice", name="Alice", phone=ALICE)
    client.bob = await User.acreate(handle="bob", name="Bob", phone=BOB, email="bob@example.com")
    await User.acreate(handle="olivia", name="Olivia", phone=OLIVIA)
    for handle in ("sam", "kim"):
        await User.acreate(handle=handle, name=handle.title(), phone=SHARED)
    await TeamMember.acreate(team=team, user=client.alice)
    await TeamMember.acreate(team=team, user=client.bob)
    for channel in ("SMS", "VOICE"):
        await ChannelPreference.acreate(user=client.alice, channel=channel, tier="primary")
    await ChannelPreference.acreate(user=client.bob, channel="EMAIL", tier="primary")
    service = client.app[SERVICE_KEY]
    client.incident = (await service.trigger(TriggerRequest(
        title="DB primary down", priority="CRITICAL", service="payments", team="payments",
    ))).incident
    await client.app[DISPATCHER_KEY].run_once()
    client.sms_row = await _row(client.incident.id, "SMS")
    client.voice_row = await _row(client.incident.id, "VOICE")
    return client


async def _row(incident_id: int, channel: str) -> NotificationLog:
    query = NotificationLog.select().where((NotificationLog.incident == incident_id) & (NotificationLog.channel == channel))
    return (await database.list(query.order_by(NotificationLog.id)))[0]


async def post(client, path: str, params: dict, *, token=AUTH_TOKEN, signed_url=None, headers=None):
    """POST ``params`` to ``path`` as Twilio would, signed for ``signed_url`` (default: the
    public URL of ``path``)."""
    signature = signed(signed_url or PUBLIC_URL + path, params, token) if token else {}
    return await client.post(path, data=params, headers={**signature, **(headers or {})})


_message_sids = itertools.count(1)


def inbound(text: str, number: str = ALICE, sid: str | None = None) -> dict:
    """An inbound SMS's parameters as Twilio sends them, each message with its own MessageSid."""
    return {"From": number, "To": FROM_NUMBER, "Body": text, "MessageSid": sid or f"SM{next(_message_sids):032x}"}


async def sms(client, text: str, number: str = ALICE) -> str:
    return await sms_answer(await post(client, "/twilio/sms", inbound(text, number)))


async def sms_answer(response) -> str:
    assert response.status == 200 and response.content_type == "text/xml"
    messages = [child.text for child in ET.fromstring(await response.text())]
    return messages[0] if messages else ""


async def _state(client) -> tuple:
    incident = await Incident.aget_by_id(client.incident.id)
    rows = await database.list(NotificationLog.select().order_by(NotificationLog.id))
    events = await database.count(IncidentEvent.select())
    return incident.status, [(row.channel, row.kind, row.status, row.error) for row in rows], events


# --- authenticity ----------------------------------------------------------------------------


async def test_a_request_signed_with_the_primary_or_the_secondary_token_is_accepted(phone):
    assert (await sms(phone, "status 1")).startswith("#1 CRITICAL payments: DB primary down")
    response = await post(phone, "/twilio/sms", {"From": ALICE, "Body": "help"}, token=SECONDARY_TOKEN)
    assert response.status == 200 and SMS_HELP in await response.text()


@pytest.mark.parametrize(
    "case",
    ["no signature", "wrong token", "tampered parameter", "other host", "the Host header's URL", "other path",
     "added query", "json body"],
)
async def test_anything_not_signed_by_twilio_for_this_url_is_refused_and_changes_nothing(phone, case):
    before = await _state(phone)
    params = {"From": ALICE, "Body": "ACK 1"}
    path = "/twilio/sms"
    if case == "no signature":
        response = await post(phone, path, params, token=None)
    elif case == "wrong token":
        response = await post(phone, path, params, token="not-the-auth-token")
    elif case == "tampered parameter":
        signature = signed(PUBLIC_URL + path, {"From": ALICE, "Body": "STATUS 1"})
        response = await phone.post(path, data=params, headers=signature)
    elif case == "other host":
        response = await post(phone, path, params, signed_url="http://attacker.test/twilio/sms")
    elif case == "the Host header's URL":
        response = await post(phone, path, params, signed_url=str(phone.make_url(path)))
    elif case == "other path":
        response = await post(phone, path, params, signed_url=PUBLIC_URL + "/twilio/sms/status")
    elif case == "added query":
        response = await post(phone, path + "?retry=1", params, signed_url=PUBLIC_URL + path)
    else:
        response = await phone.post(path, json=params, headers=signed(PUBLIC_URL + path, params))
    assert response.status == 403
    assert await _state(phone) == before


async def test_every_twilio_route_checks_the_signature(phone):
    before = await _state(phone)
    forged = [
        ("/twilio/sms/status", {"MessageSid": phone.sms_row.provider_id, "MessageStatus": "failed", "ErrorCode": "30003"}),
        ("/twilio/voice/status", {"CallSid": phone.voice_row.provider_id, "CallStatus": "no-answer"}),
        (f"/twilio/voice/{phone.voice_row.id}", {"CallSid": phone.voice_row.provider_id}),
        (f"/twilio/voice/{phone.voice_row.id}/gather", {"CallSid": phone.voice_row.provider_id, "Digits": "2"}),
    ]
    for path, params in forged:
        assert (await post(phone, path, params, token="forged")).status == 403
    assert await _state(phone) == before


async def test_a_signed_query_string_is_part_of_the_signed_url(phone):
    response = await post(phone, "/twilio/sms/status?attempt=2", {"MessageSid": phone.sms_row.provider_id,
                                                                  "MessageStatus": "delivered"})
    assert response.status == 204
    assert (await _row(phone.incident.id, "SMS")).status == "DELIVERED"


# --- SMS replies -----------------------------------------------------------------------------


async def test_ack_with_a_number_acknowledges_attributed_to_the_sender_via_sms(phone):
    assert await sms(phone, "ACK 1") == "#1 acknowledged by Alice via SMS."
    incident = await Incident.aget_by_id(1)
    assert (incident.status, incident.acknowledged_by_id, incident.acknowledged_via) == ("ACKNOWLEDGED", phone.alice.id, "SMS")
    again = await sms(phone, "ack 1")
    assert again.startswith("#1 was already acknowledged by Alice via SMS at ") and again.endswith("nothing changed.")


async def test_a_bare_ack_then_res_act_on_the_latest_page_sent_by_sms(phone):
    assert await sms(phone, "ack") == "#1 acknowledged by Alice via SMS."
    assert await sms(phone, "RES") == "#1 resolved by Alice via SMS."
    assert (await Incident.aget_by_id(1)).resolved_via == "SMS"
    assert await sms(phone, "ack", number=BOB) == "No page was sent to you here yet; say ack 42 to name the incident."


async def test_status_answers_with_the_compact_grid(phone):
    assert await sms(phone, "STATUS 1") == (
        "#1 CRITICAL payments: DB primary down [TRIGGERED]\nAlice: SMS SENT, VOICE SENT\nBob: EMAIL SENT"
    )
    assert await sms(phone, "status 99") == "There is no incident #99."


async def test_help_and_what_is_not_understood_get_the_sms_help(phone):
    assert await sms(phone, "HELP") == SMS_HELP
    assert await sms(phone, "hello there") == f'I don\'t know "hello". {SMS_HELP}'
    assert await sms(phone, "link") == "This number is linked to Alice."


async def test_someone_not_involved_is_refused_and_nothing_changes(phone):
    before = await _state(phone)
    assert (await sms(phone, "RES 1", number=OLIVIA)).startswith("Sorry, you can't act on #1")
    assert await _state(phone) == before


@pytest.mark.parametrize("number", ["+15559999999", SHARED, "not a number", ""])
async def test_unknown_and_shared_numbers_get_one_neutral_reply_and_nothing_else(phone, number):
    before = await _state(phone)
    for text in ("ACK 1", "STATUS 1", "HELP"):
        assert await sms(phone, text, number=number) == NEUTRAL_REPLY
    assert await _state(phone) == before


async def test_opt_out_keywords_are_left_to_twilio(phone):
    for keyword in ("STOP", "start", " Unsubscribe "):
        assert await sms(phone, keyword) == ""


# --- receipts --------------------------------------------------------------------------------


async def _message_status(client, sid, status, **extra):
    response = await post(client, "/twilio/sms/status", {"MessageSid": sid, "MessageStatus": status, **extra})
    assert response.status == 204


async def _call_status(client, sid, status, **extra):
    response = await post(client, "/twilio/voice/status", {"CallSid": sid, "CallStatus": status, **extra})
    assert response.status == 204


async def test_message_receipts_move_the_row_to_delivered_or_failed_with_twilios_code(phone):
    sid = phone.sms_row.provider_id
    for status in ("queued", "sending", "sent"):
        await _message_status(phone, sid, status)
        assert (await _row(1, "SMS")).status == "SENT"
    await _message_status(phone, sid, "delivered")
    assert (await _row(1, "SMS")).status == "DELIVERED"
    await _message_status(phone, sid, "undelivered", ErrorCode="30003")
    row = await _row(1, "SMS")
    assert (row.status, row.error) == ("FAILED", "Twilio error 30003")
    await _message_status(phone, "SMunknown", "delivered")


async def test_call_receipts_answered_is_delivered_and_no_answer_or_busy_is_failed(phone):
    sid = phone.voice_row.provider_id
    await _call_status(phone, sid, "ringing")
    assert (await _row(1, "VOICE")).status == "SENT"
    await _call_status(phone, sid, "in-progress")
    assert (await _row(1, "VOICE")).status == "DELIVERED"
    await _call_status(phone, sid, "completed")
    assert (await _row(1, "VOICE")).status == "DELIVERED"

    for status, error in (("no-answer", "nobody answered"), ("busy", "the line was busy"),
                          ("failed", "the call could not be placed (Twilio error 13224)")):
        incident = (await phone.app[SERVICE_KEY].trigger(TriggerRequest(title=status, team="payments"))).incident
        await phone.app[DISPATCHER_KEY].run_once()
        row = await _row(incident.id, "VOICE")
        await _call_status(phone, row.provider_id, status, **({"ErrorCode": "13224"} if status == "failed" else {}))
        row = await _row(incident.id, "VOICE")
        assert (row.status, row.error) == ("FAILED", error)


# --- voice -----------------------------------------------------------------------------------


async def _twiml(response) -> ET.Element:
    assert response.status == 200 and response.content_type == "text/xml"
    return ET.fromstring(await response.text())


async def test_the_call_reads_the_incident_and_gathers_a_digit(phone):
    path = f"/twilio/voice/{phone.voice_row.id}"
    root = await _twiml(await post(phone, path, {"CallSid": phone.voice_row.provider_id, "To": ALICE}))
    gather = root.find("Gather")
    assert gather.attrib["action"] == f"{PUBLIC_URL}{path}/gather"
    assert "critical incident 1, service payments. DB primary down." in gather.find("Say").text


async def test_pressing_1_acknowledges_via_voice_and_2_resolves(phone):
    path = f"/twilio/voice/{phone.voice_row.id}/gather"
    root = await _twiml(await post(phone, path, {"CallSid": phone.voice_row.provider_id, "Digits": "1"}))
    assert root.find("Say").text == "Incident 1 acknowledged. Thank you. Goodbye."
    incident = await Incident.aget_by_id(1)
    assert (incident.status, incident.acknowledged_by_name, incident.acknowledged_via) == ("ACKNOWLEDGED", "Alice", "VOICE")
    root = await _twiml(await post(phone, path, {"CallSid": "CAsecondcall", "Digits": "1"}))
    assert root.find("Say").text == "Incident 1 was already acknowledged by Alice. Nothing changed. Goodbye."
    root = await _twiml(await post(phone, path, {"CallSid": "CAthirdcall", "Digits": "2"}))
    assert root.find("Say").text == "Incident 1 resolved. Thank you. Goodbye."
    assert (await Incident.aget_by_id(1)).resolved_via == "VOICE"


async def test_9_repeats_and_other_keys_apologise_and_repeat(phone):
    menu = f"{PUBLIC_URL}/twilio/voice/{phone.voice_row.id}"
    before = await _state(phone)
    root = await _twiml(await post(phone, f"/twilio/voice/{phone.voice_row.id}/gather", {"Digits": "9"}))
    assert [(child.tag, child.text) for child in root] == [("Redirect", menu)]
    root = await _twiml(await post(phone, f"/twilio/voice/{phone.voice_row.id}/gather", {"Digits": "5"}))
    assert [(child.tag, child.text) for child in root] == [("Say", "Sorry, 5 is not an option."), ("Redirect", menu)]
    assert await _state(phone) == before


async def test_a_call_url_that_is_not_a_voice_notification_acts_on_nothing(phone):
    before = await _state(phone)
    for notification in (phone.sms_row.id, 999):
        for path in (f"/twilio/voice/{notification}", f"/twilio/voice/{notification}/gather"):
            root = await _twiml(await post(phone, path, {"Digits": "1"}))
            assert root.find("Gather") is None and root.find("Hangup") is not None
    assert await _state(phone) == before
    assert (await post(phone, "/twilio/voice/abc", {"Digits": "1"})).status == 404


async def test_a_call_number_beyond_any_row_id_is_no_call_on_either_database(phone):
    for path in ("/twilio/voice/999999999999", "/twilio/voice/2147483648/gather"):
        root = await _twiml(await post(phone, path, {"CallSid": "CA1", "Digits": "1"}))
        assert root.find("Say").text == CALL_GONE


async def test_a_test_call_says_so(phone):
    await phone.app[SERVICE_KEY].send_test(phone.alice.id)
    await phone.app[DISPATCHER_KEY].run_once()
    row = (await database.list(NotificationLog.select().where(
        (NotificationLog.kind == "TEST") & (NotificationLog.channel == "VOICE"))))[0]
    root = await _twiml(await post(phone, f"/twilio/voice/{row.id}", {"CallSid": row.provider_id}))
    assert "test call from Ackbot for Alice" in root.find("Say").text and root.find("Gather") is None
    root = await _twiml(await post(phone, f"/twilio/voice/{row.id}/gather", {"Digits": "1"}))
    assert root.find("Hangup") is not None


# --- replays ---------------------------------------------------------------------------------


async def _incident_states() -> list[tuple]:
    return [(incident.id, incident.status) for incident in await database.list(Incident.select().order_by(Incident.id))]


@pytest.mark.parametrize(("verb", "answer"), [("ACK", "#1 acknowledged by Alice via SMS."), ("RES", "#1 resolved by Alice via SMS.")])
async def test_a_replayed_bare_reply_does_not_act_on_a_newer_incident_and_answers_as_before(phone, verb, answer):
    captured = inbound(verb)
    assert await sms_answer(await post(phone, "/twilio/sms", captured)) == answer
    service = phone.app[SERVICE_KEY]
    newer = (await service.trigger(TriggerRequest(title="Disk full", team="payments"))).incident
    await phone.app[DISPATCHER_KEY].run_once()
    assert await service.latest_page_for(phone.alice.id, Channel.SMS) == newer.id
    before = await _incident_states()

    assert await sms_answer(await post(phone, "/twilio/sms", captured)) == answer
    assert await _incident_states() == before
    assert (await Incident.aget_by_id(newer.id)).status == "TRIGGERED"


async def test_a_replayed_test_request_sends_no_second_test_page(phone):
    captured = inbound("TEST")
    first = await sms_answer(await post(phone, "/twilio/sms", captured))
    assert first.startswith("Test page")
    pages = await database.count(NotificationLog.select().where(NotificationLog.kind == "TEST"))
    assert await sms_answer(await post(phone, "/twilio/sms", captured)) == first
    assert await database.count(NotificationLog.select().where(NotificationLog.kind == "TEST")) == pages


async def test_a_replayed_keypress_changes_nothing_and_answers_as_the_first_time(phone):
    path = f"/twilio/voice/{phone.voice_row.id}/gather"
    captured = {"CallSid": phone.voice_row.provider_id, "Digits": "1"}
    first = await (await post(phone, path, captured)).text()
    assert "Incident 1 acknowledged. Thank you." in first
    before = await _state(phone)
    assert await (await post(phone, path, captured)).text() == first
    assert await _state(phone) == before
