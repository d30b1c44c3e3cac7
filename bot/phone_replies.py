"""What Ackbot says by phone: SMS replies (short, GSM-7 friendly) and the TwiML of a call (the
incident read out, one keypress to act). Pure: no I/O."""
from __future__ import annotations

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from bot.actions import Rendering
from bot.commands import Command
from incidents.lifecycle import available_actions
from incidents.phone_lookup import Call
from incidents.report import IncidentReport
from incidents.service import ActionOutcome
from storage.enums import Action, IncidentStatus, NotificationKind, surface_label

SMS_REPLY_LIMIT = 480  # three GSM-7 segments
NEUTRAL_REPLY = "Sorry, replies from this number are not accepted."
SMS_HELP = (
    "Ackbot by SMS: ACK 42 acknowledges #42, RES 42 resolves it (a bare ACK or RES: your latest SMS page). "
    "STATUS 42: who was paged. LIST: open incidents. TEST: a test page. ONCALL: who is on call. "
    "TAKE or TAKE 2H: go on call now."
)
_SMS_SAFE = str.maketrans({"\u00b7": "-", "\u2026": "...", "\u2014": "-", "\u2013": "-"})

# Digits on the call menu; 9 repeats it. A key is offered only while its action can still change
# something.
DIGITS = {"1": Action.ACKNOWLEDGE, "2": Action.RESOLVE}
REPEAT = "9"
_DIGIT_FOR = {action: digit for digit, action in DIGITS.items()}
_SAY_ACTION = {Action.ACKNOWLEDGE: "acknowledge", Action.RESOLVE: "resolve"}


# --- SMS -------------------------------------------------------------------------------------


def sms_reply(text: str) -> str:
    """The TwiML answering an inbound SMS with ``text`` (none when ``text`` is empty)."""
    response = MessagingResponse()
    if text:
        response.message(sms_safe(text))
    return str(response)


def sms_safe(text: str, limit: int = SMS_REPLY_LIMIT) -> str:
    """``text`` with the grid's non-GSM-7 punctuation replaced, cut to ``limit`` characters."""
    text = text.translate(_SMS_SAFE)
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def sms_help(problem: str | None) -> str:
    return f"{problem} {SMS_HELP}" if problem else SMS_HELP


def sms_status(report: IncidentReport) -> str:
    """The delivery grid, compact: "#42 CRITICAL payments: DB down [ACKNOWLEDGED by Alice via SMS]"
    then one line per person: "Alice: EMAIL FAILED, SMS DELIVERED, VOICE CANCELLED"."""
    incident = report.incident
    where = f" {incident.service}" if incident.service else ""
    lines = [f"#{incident.id} {incident.priority}{where}: {incident.title} [{_state(incident)}]"]
    latest: dict[str, dict[str, str]] = {}
    for line in report.notifications:
        if line.kind == NotificationKind.ALERT:
            latest.setdefault(line.person, {})[line.channel] = line.status
    for person, channels in latest.items():
        lines.append(f"{person}: " + ", ".join(f"{channel} {status}" for channel, status in channels.items()))
    if not latest:
        lines.append("nobody paged")
    return "\n".join(lines)


def _command_help(command: Command) -> str:
    return sms_help(command.problem)


# The shared command runner's answers, sized for an SMS.
SMS_RENDERING = Rendering(status=sms_status, help=_command_help)


def _state(incident) -> str:
    if incident.status == IncidentStatus.RESOLVED:
        return f"RESOLVED by {incident.resolved_by_name} via {surface_label(incident.resolved_via)}"
    if incident.status == IncidentStatus.ACKNOWLEDGED:
        return f"ACKNOWLEDGED by {incident.acknowledged_by_name} via {surface_label(incident.acknowledged_via)}"
    return incident.status


# --- voice -----------------------------------------------------------------------------------


def call_menu(call: Call, gather_url: str) -> str:
    """The TwiML of an answered call: the incident read out (twice if no key is pressed) and one
    digit gathered for ``gather_url``; a test call or a resolved incident just says so."""
    response = VoiceResponse()
    if call.kind == NotificationKind.TEST:
        response.say(f"This is a test call from Ackbot for {call.person.name}. Pages can reach you by phone. "
                     "Nothing is wrong. Goodbye.")
        response.hangup()
        return str(response)
    incident = call.incident
    actions = available_actions(incident.status)
    if not actions:
        response.say(_sentences(_headline(incident), _spoken_state(incident), "Goodbye."))
        response.hangup()
        return str(response)
    gather = response.gather(num_digits=1, action=gather_url, method="POST", timeout=8)
    gather.say(_sentences(_headline(incident), _spoken_state(incident), _choices(actions)), loop=2)
    response.say("No key was pressed. Goodbye.")
    response.hangup()
    return str(response)


def _sentences(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def _headline(incident) -> str:
    service = f", service {incident.service}" if incident.service else ""
    title = incident.title if len(incident.title) <= 200 else incident.title[:200] + "..."
    return f"This is Ackbot. {incident.priority.lower()} incident {incident.id}{service}. {title}."


def _spoken_state(incident) -> str:
    if incident.status == IncidentStatus.RESOLVED:
        return f"It was resolved by {incident.resolved_by_name}."
    if incident.status == IncidentStatus.ACKNOWLEDGED:
        return f"It was acknowledged by {incident.acknowledged_by_name}."
    return ""


def _choices(actions) -> str:
    options = [f"{_DIGIT_FOR[action]} to {_SAY_ACTION[action]}" for action in actions]
    return f"Press {', '.join(options)}, or {REPEAT} to hear this again."


def call_answer(outcome: ActionOutcome) -> str:
    """What the call says after a keypress acted (or found it already done), then hangs up."""
    response = VoiceResponse()
    number = outcome.incident.id
    if outcome.changed:
        done = "acknowledged" if outcome.action == Action.ACKNOWLEDGE else "resolved"
        response.say(f"Incident {number} {done}. Thank you. Goodbye.")
    else:
        response.say(f"Incident {number} was already {outcome.incident.status.lower()} by {outcome.by}. "
                     "Nothing changed. Goodbye.")
    response.hangup()
    return str(response)


def call_redirect(menu_url: str, apology: str | None = None) -> str:
    """Back to the menu (9, or a key that means nothing), with an apology for the latter."""
    response = VoiceResponse()
    if apology:
        response.say(apology)
    response.redirect(menu_url, method="POST")
    return str(response)


def call_refusal(text: str) -> str:
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return str(response)


CALL_GONE = "This Ackbot call is no longer valid. Goodbye."
CALL_BUSY = "Your key press is being handled. Goodbye."
