"""Activities read from JSON come out exactly as botbuilder's own deserializer reads them: the
activities Teams sends, and odd ones (wrong types, bad timestamps) that deserializer converts
or refuses."""
from __future__ import annotations

import copy

import pytest
from botbuilder.schema import Activity
from msrest.exceptions import DeserializationError
from msrest.serialization import Model

from bot.teams.activity_json import activity_from_json

SENDER = {"id": "29:alice", "name": "Alice", "aadObjectId": "aad-alice"}
CONVERSATION = {"id": "a:alice-chat", "conversationType": "personal", "tenantId": "tenant-1"}


def _base(kind: str, **extra) -> dict:
    body = {
        "type": kind, "id": "f:123", "timestamp": "2026-12-02T06:30:01.2345678Z",
        "localTimestamp": "2026-12-02T07:30:01.234+01:00", "serviceUrl": "https://smba.trafficmanager.net/amer/",
        "channelId": "msteams", "from": SENDER, "conversation": CONVERSATION,
        "recipient": {"id": "28:bot", "name": "Ackbot"}, "locale": "en-US", "localTimezone": "Europe/Berlin",
        "entities": [{"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web", "timezone": "Europe/Berlin"}],
        "channelData": {"tenant": {"id": "tenant-1"}, "source": {"name": "message"}, "legacy": {"replyToId": "1:abc"}},
    }
    body.update(extra)
    return body


ACTIVITIES = {
    "card click": _base(
        "invoke", name="adaptiveCard/action", replyToId="1:abc",
        value={"action": {"type": "Action.Execute", "verb": "acknowledge", "data": {"incident": 42}}, "trigger": "manual"},
    ),
    "channel message": _base(
        "message", text="<at>Ackbot</at> status 42", textFormat="plain", attachments=[
            {"contentType": "text/html", "content": "<div><at id=\"0\">Ackbot</at> status 42</div>"}],
        entities=[{"type": "mention", "text": "<at>Ackbot</at>", "mentioned": {"id": "28:bot", "name": "Ackbot"}}],
        conversation={"isGroup": True, "conversationType": "channel", "id": "19:general@thread.tacv2",
                      "tenantId": "tenant-1", "name": "General"},
    ),
    "install": _base("installationUpdate", action="add"),
    "members added": _base("conversationUpdate", membersAdded=[{"id": "28:bot"}, {"id": "29:bob", "aadObjectId": "aad-bob"}]),
    "sign-in": _base("invoke", name="signin/verifyState", value={"state": "123456"}),
    "minimal": {"type": "message", "serviceUrl": "http://x/", "from": {"id": "1"}, "conversation": {"id": "c"}},
    "null fields": _base("message", text=None, entities=None, value=None),
}

ODD = {
    "number as text": _base("message", text=42),
    "number as id": _base("message", **{"from": {"id": 7, "name": "Seven"}}),
    "bad timestamp": _base("message", timestamp="yesterday"),
    "sender not an object": _base("message", **{"from": "alice"}),
    "entities not a list": _base("message", entities={"type": "clientInfo"}),
    "text as bool": _base("message", text=True),
    "group flag as text": _base("message", conversation={**CONVERSATION, "isGroup": "true"}),
    "null in a list": _base("message", membersAdded=[None, {"id": "29:bob"}]),
}


def _plain(value):
    """A model tree as plain data, every attribute (and additional property) included."""
    if isinstance(value, Model):
        return {type(value).__name__: {name: _plain(item) for name, item in vars(value).items()}}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _msrest(body: dict):
    try:
        return _plain(Activity().deserialize(copy.deepcopy(body)))
    except DeserializationError:
        return DeserializationError


def _ours(body: dict):
    try:
        return _plain(activity_from_json(copy.deepcopy(body)))
    except DeserializationError:
        return DeserializationError


@pytest.mark.parametrize("name", [*ACTIVITIES, *ODD])
def test_an_activity_reads_as_botbuilder_reads_it(name):
    body = ACTIVITIES.get(name) or ODD[name]
    assert _ours(body) == _msrest(body)


def test_a_card_click_keeps_what_the_bot_reads():
    activity = activity_from_json(ACTIVITIES["card click"])
    assert (activity.type, activity.name, activity.from_property.aad_object_id) == ("invoke", "adaptiveCard/action", "aad-alice")
    assert activity.value["action"]["data"] == {"incident": 42}
    assert activity.timestamp.year == 2026 and activity.entities[0].additional_properties["platform"] == "Web"
