"""SMS through Twilio: one short message per page, with a status callback so delivery is
confirmed, not assumed. The Message SID is the provider id the receipts are matched on.

The text fits one SMS segment where it can: 160 GSM-7 characters (typographic quotes, dashes and
ellipses are first replaced by their GSM-7 look-alikes), or 70 when something else is left, such
as an emoji, which makes the whole message UCS-2. The title is what gets shortened, with "..."
("…" is not GSM-7); the reply hint is always kept.
"""
from __future__ import annotations

from channels.base import BaseChannel, PermanentDeliveryError
from channels.twilio_client import TwilioApi
from channels.types import Channel, ChannelDeliveryResult, ChannelTraits, NotificationKind, NotificationPayload, Reach, StatusNotice, Tier

STATUS_CALLBACK_PATH = "/twilio/sms/status"
GSM7_SEGMENT = 160
UCS2_SEGMENT = 70
ELLIPSIS = "..."

_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€")  # each takes two characters: an escape, then the character
_GSM7 = frozenset(_GSM7_BASIC | _GSM7_EXTENDED)
_LOOK_ALIKES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2033": '"', "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u00a0": " ", "\t": " ", "\u2022": "*", "\u00b7": "*", "\u2026": ELLIPSIS,
})


def is_gsm7(text: str) -> bool:
    return _GSM7.issuperset(text)


def sms_length(text: str) -> int:
    """Characters ``text`` takes in a segment: GSM-7 counts its extension characters twice;
    UCS-2 (really UTF-16) counts an emoji twice."""
    if not is_gsm7(text):
        return len(text.encode("utf-16-le")) // 2
    if _GSM7_EXTENDED.isdisjoint(text):
        return len(text)
    return len(text) + sum(text.count(char) for char in _GSM7_EXTENDED)


def normalise(text: str) -> str:
    """One line, with typographic punctuation replaced by GSM-7 look-alikes."""
    return " ".join(text.translate(_LOOK_ALIKES).split())


def shorten(text: str, room: int) -> str:
    """``text`` cut to ``room`` segment characters, ending with "..." when cut, at a word boundary
    when one falls within the last 20%."""
    if sms_length(text) <= room:
        return text
    # A character takes at least one segment character, so no longer prefix can fit.
    cut = text[:max(0, room - len(ELLIPSIS))]
    while cut and sms_length(cut) + len(ELLIPSIS) > room:
        cut = cut[:-1]
    boundary = cut.rfind(" ")
    if boundary >= len(cut) * 0.8:
        cut = cut[:boundary]
    return cut.rstrip(" .,;:-") + ELLIPSIS


def fit(head: str, middle: str, tail: str) -> str:
    """``middle``, shortened so that ``head + middle + tail`` takes one segment where possible
    (keeping at least 20 characters of it, even if that takes a second segment)."""
    limit = GSM7_SEGMENT if is_gsm7(head + middle + tail) else UCS2_SEGMENT
    return shorten(middle, max(20, limit - sms_length(head) - sms_length(tail)))


def _reply_hint(payload: NotificationPayload) -> str:
    number = payload.incident_id
    replies = {"acknowledge": f"ACK {number}", "resolve": f"RES {number}"}
    offered = [replies[action.id] for action in payload.actions if action.id in replies]
    return f" Reply {' or '.join(offered)}" if offered else ""


def alert_text(payload: NotificationPayload) -> str:
    """"CRITICAL #42 payments: DB primary down. Reply ACK 42 or RES 42"."""
    where = normalise(payload.service or payload.team_name)
    head = f"{payload.priority} #{payload.incident_id}{' ' + where if where else ''}: "
    return head + _sentence(head, normalise(payload.title), _reply_hint(payload))


def status_text(payload: NotificationPayload) -> str:
    """"#42 Acknowledged by Alice via SLACK at Sat 28 Nov 2026, 14:02 UTC. Reply RES 42"."""
    head = f"#{payload.incident_id} "
    return head + _sentence(head, normalise(payload.status_text or payload.incident_status.lower()), _reply_hint(payload))


def _sentence(head: str, text: str, hint: str) -> str:
    """``text`` fitted after ``head``, then the reply hint as a sentence of its own."""
    text = fit(head, text.rstrip("."), "." + hint)
    if not hint:
        return text
    return text + hint if text.endswith(ELLIPSIS) else f"{text}.{hint}"


TEST_TEXT = "Ackbot test: pages reach you by SMS at this number. Nothing is wrong."


def sms_text(payload: NotificationPayload) -> str:
    if payload.kind == NotificationKind.STATUS:
        return status_text(payload)
    if payload.kind == NotificationKind.TEST:
        return TEST_TEXT
    return alert_text(payload)


class SmsChannel(BaseChannel):
    """Pages and status notices by SMS; people reply ``ACK 42`` (see ``bot.phone``)."""

    name = Channel.SMS
    traits = ChannelTraits(Reach.PHONE_NUMBER, Tier.SECONDARY, StatusNotice.NEW_MESSAGE)

    def __init__(self, api: TwilioApi, public_url: str):
        self.api = api
        self.status_callback = public_url.rstrip("/") + STATUS_CALLBACK_PATH

    async def deliver(self, payload: NotificationPayload) -> ChannelDeliveryResult:
        phone = payload.recipient.phone
        if not phone:
            raise PermanentDeliveryError(f"{payload.recipient.name} has no phone number")
        sid = await self.api.send_message(phone, sms_text(payload), self.status_callback)
        return ChannelDeliveryResult.sent(sid)
