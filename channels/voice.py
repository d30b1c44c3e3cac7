"""Voice calls through Twilio, the last resort. Ackbot serves the call's TwiML itself (see
``bot.phone``): the call's URL names the notification, so what is read out and what a keypress
does come from the database when the call is answered, never from the call request.

The Call SID is the provider id. The status callback turns answered/completed into DELIVERED and
busy/no-answer/failed/canceled into FAILED, so escalation moves on instead of waiting.
"""
from __future__ import annotations

from channels.base import BaseChannel, PermanentDeliveryError
from channels.twilio_client import TwilioApi
from channels.types import Channel, ChannelDeliveryResult, ChannelTraits, NotificationKind, NotificationPayload, Reach, StatusNotice, Tier

STATUS_CALLBACK_PATH = "/twilio/voice/status"


def twiml_path(notification_id: int) -> str:
    return f"/twilio/voice/{notification_id}"


class VoiceChannel(BaseChannel):
    """Calls for pages and test pages; status notices never go by voice."""

    name = Channel.VOICE
    traits = ChannelTraits(Reach.PHONE_NUMBER, Tier.FALLBACK, StatusNotice.NONE)

    def __init__(self, api: TwilioApi, public_url: str):
        self.api = api
        self.public_url = public_url.rstrip("/")

    async def deliver(self, payload: NotificationPayload) -> ChannelDeliveryResult:
        if payload.kind == NotificationKind.STATUS:
            raise PermanentDeliveryError("status notices are not sent by voice")
        phone = payload.recipient.phone
        if not phone:
            raise PermanentDeliveryError(f"{payload.recipient.name} has no phone number")
        sid = await self.api.start_call(
            phone, self.public_url + twiml_path(payload.notification_id), self.public_url + STATUS_CALLBACK_PATH,
        )
        return ChannelDeliveryResult.sent(sid)
