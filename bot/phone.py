"""Twilio webhooks: SMS replies, the voice menu, and delivery status callbacks.

Every route checks ``X-Twilio-Signature`` against ``ACKBOT_PUBLIC_URL`` + the path and query
Twilio called (never the Host header, which a proxy or an attacker sets), with the auth token or
the secondary one kept during rotation. Anything else gets 403 and changes nothing. Twilio's
signature has no nonce, so an inbound SMS (by MessageSid) and a key that acts (by CallSid and
digit) run once: a replay within a day changes nothing and gets the first answer again.

- ``POST /twilio/sms``: an inbound SMS. The sender is found by number; the text is a command
  (``ACK 42``, ``RES 42``, a bare ``ACK``/``RES`` for the latest SMS page, ``STATUS 42``,
  ``HELP``) and the TwiML reply says what happened. Unknown numbers get one neutral reply.
- ``POST /twilio/sms/status``, ``POST /twilio/voice/status``: delivery receipts.
- ``POST /twilio/voice/{notification}``: the TwiML of a call Ackbot placed;
  ``POST /twilio/voice/{notification}/gather``: the digit pressed (1 acknowledge, 2 resolve,
  9 repeat).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web
from twilio.request_validator import RequestValidator

from bot import commands
from bot.access_log import log_rejected
from bot.actions import run_command
from bot.app_keys import SERVICE_KEY, WEBHOOKS_KEY
from bot.phone_replies import (
    CALL_BUSY,
    CALL_GONE,
    DIGITS,
    NEUTRAL_REPLY,
    REPEAT,
    SMS_RENDERING,
    call_answer,
    call_menu,
    call_redirect,
    call_refusal,
    sms_reply,
)
from channels import sms, voice
from incidents.phone_lookup import Call, Person
from incidents.service import Actor, IncidentNotFound, IncidentService, NotAllowed
from storage.enums import Channel, DeliveryStatus, NotificationKind

log = logging.getLogger("ackbot.twilio")

SIGNATURE_HEADER = "X-Twilio-Signature"
FORM = "application/x-www-form-urlencoded"
# Twilio answers these itself (opt-out and opt-in); a reply from Ackbot would be refused.
OPT_KEYWORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "START", "YES", "UNSTOP"}

MESSAGE_RECEIPTS = {"delivered": DeliveryStatus.DELIVERED, "undelivered": DeliveryStatus.FAILED,
                    "failed": DeliveryStatus.FAILED}
# The "answered" event arrives with CallStatus in-progress.
CALL_RECEIPTS = {"in-progress": DeliveryStatus.DELIVERED, "completed": DeliveryStatus.DELIVERED,
                 "busy": DeliveryStatus.FAILED, "no-answer": DeliveryStatus.FAILED, "failed": DeliveryStatus.FAILED,
                 "canceled": DeliveryStatus.FAILED}
_CALL_FAILURES = {"busy": "the line was busy", "no-answer": "nobody answered", "failed": "the call could not be placed",
                  "canceled": "the call was canceled"}


@dataclass(frozen=True)
class TwilioWebhooks:
    public_url: str
    validators: tuple[RequestValidator, ...]


def add_routes(app: web.Application, public_url: str, auth_tokens: tuple[str, ...]) -> None:
    """Register the routes; signatures are checked against ``public_url`` with each of
    ``auth_tokens`` (without any, every request is refused)."""
    app[WEBHOOKS_KEY] = TwilioWebhooks(public_url, tuple(RequestValidator(token) for token in auth_tokens))
    app.router.add_post("/twilio/sms", _signed(inbound_sms))
    app.router.add_post(sms.STATUS_CALLBACK_PATH, _signed(message_status))
    app.router.add_post(voice.STATUS_CALLBACK_PATH, _signed(call_status))
    app.router.add_post(r"/twilio/voice/{notification:\d{1,12}}", _signed(call_twiml))
    app.router.add_post(r"/twilio/voice/{notification:\d{1,12}}/gather", _signed(call_keypress))


# --- authenticity ----------------------------------------------------------------------------


def _signed(handler):
    async def checked(request: web.Request) -> web.Response:
        form = await _form(request)
        if form is None or not _authentic(request, form):
            log_rejected(request, f"missing or invalid {SIGNATURE_HEADER}")
            return web.Response(status=403, text=f"missing or invalid {SIGNATURE_HEADER}\n")
        return await handler(request, form)

    return checked


async def _form(request: web.Request):
    """The form Twilio posts; None for anything else, which no signature can cover."""
    if request.content_type != FORM:
        return None
    try:
        return await request.post()
    except (ValueError, LookupError):  # not text in its charset (UnicodeDecodeError), or an unknown charset
        return None


def _authentic(request: web.Request, form) -> bool:
    webhooks = request.app[WEBHOOKS_KEY]
    signature = request.headers.get(SIGNATURE_HEADER, "")
    url = webhooks.public_url + request.raw_path
    return bool(signature) and any(validator.validate(url, form, signature) for validator in webhooks.validators)


def _twiml(xml: str) -> web.Response:
    return web.Response(text=xml, content_type="text/xml")


def _service(request: web.Request) -> IncidentService:
    return request.app[SERVICE_KEY]


# --- SMS -------------------------------------------------------------------------------------


async def inbound_sms(request: web.Request, form) -> web.Response:
    """Each MessageSid is answered once; a replayed message gets the first reply again."""
    sid = form.get("MessageSid", "")
    if not sid:
        return _twiml(await _sms_reply(request, form))
    return _twiml(await _service(request).answer_once(f"twilio-sms:{sid}", lambda: _sms_reply(request, form), sms_reply("")))


async def _sms_reply(request: web.Request, form) -> str:
    text = form.get("Body", "")
    if text.strip().upper() in OPT_KEYWORDS:
        return sms_reply("")
    person = await _service(request).phones.person_with_number(form.get("From", ""))
    if person is None:
        return sms_reply(NEUTRAL_REPLY)
    return sms_reply(await _answer(_service(request), commands.parse_command(text), person))


async def _answer(service: IncidentService, command: commands.Command, person: Person) -> str:
    if command.verb == commands.LINK:
        return f"This number is linked to {person.name}."
    if command.verb == commands.PUSH:
        return "Push notifications are turned on from a browser, not by SMS."
    return await run_command(service, command, Actor(person.name, Channel.SMS, person.user_id), SMS_RENDERING)


async def message_status(request: web.Request, form) -> web.Response:
    """queued/sending/sent change nothing (the row is SENT already); delivered → DELIVERED;
    undelivered/failed → FAILED with Twilio's error code."""
    status = MESSAGE_RECEIPTS.get(form.get("MessageStatus", ""))
    sid = form.get("MessageSid", "")
    if status is not None and sid:
        code = form.get("ErrorCode")
        error = f"Twilio error {code}" if code else f"Twilio reported the message {form['MessageStatus']}"
        await _record(request, sid, status, error)
    return web.Response(status=204)


async def call_status(request: web.Request, form) -> web.Response:
    """answered/completed → DELIVERED; busy/no-answer/failed/canceled → FAILED, so escalation
    moves on."""
    call_state = form.get("CallStatus", "")
    status = CALL_RECEIPTS.get(call_state)
    sid = form.get("CallSid", "")
    if status is not None and sid:
        code = form.get("ErrorCode")
        error = _CALL_FAILURES.get(call_state, call_state) + (f" (Twilio error {code})" if code else "")
        await _record(request, sid, status, error)
    return web.Response(status=204)


async def _record(request: web.Request, sid: str, status: DeliveryStatus, error: str) -> None:
    if not await _service(request).record_receipt(sid, status, error if status == DeliveryStatus.FAILED else None):
        # Not the sid itself: it is the sender's text until a row has matched it.
        log.info("a Twilio receipt for a message or call Ackbot did not send (or has not recorded yet)")


# --- voice -----------------------------------------------------------------------------------


def _menu_url(request: web.Request) -> str:
    return request.app[WEBHOOKS_KEY].public_url + voice.twiml_path(int(request.match_info["notification"]))


async def _call(request: web.Request) -> Call | None:
    # Row ids are 32-bit on PostgreSQL: a larger number in the path is no call, not a query error.
    notification = commands.parse_number(request.match_info["notification"])
    return await _service(request).phones.call(notification, Channel.VOICE) if notification is not None else None


async def call_twiml(request: web.Request, form) -> web.Response:
    call = await _call(request)
    if call is None:
        return _twiml(call_refusal(CALL_GONE))
    return _twiml(call_menu(call, _menu_url(request) + "/gather"))


async def call_keypress(request: web.Request, form) -> web.Response:
    call = await _call(request)
    if call is None or call.kind != NotificationKind.ALERT:
        return _twiml(call_refusal(CALL_GONE))
    digit = form.get("Digits", "")
    if digit == REPEAT:
        return _twiml(call_redirect(_menu_url(request)))
    action = DIGITS.get(digit)
    if action is None:
        return _twiml(call_redirect(_menu_url(request), f"Sorry, {digit or 'no key'} is not an option."))
    sid = form.get("CallSid", "")
    if not sid:
        return _twiml(await _keypress_answer(request, call, action))
    identity = f"twilio-call:{sid}:{request.match_info['notification']}:{digit}"
    return _twiml(await _service(request).answer_once(identity, lambda: _keypress_answer(request, call, action),
                                                      call_refusal(CALL_BUSY)))


async def _keypress_answer(request: web.Request, call: Call, action) -> str:
    """A key that acts, pressed once on a call; a replay of it gets this answer again."""
    actor = Actor(call.person.name, Channel.VOICE, call.person.user_id)
    try:
        outcome = await _service(request).act(call.incident.id, action, actor)
    except (IncidentNotFound, NotAllowed):
        return call_refusal(CALL_GONE)
    return call_answer(outcome)
