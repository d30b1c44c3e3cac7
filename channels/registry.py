"""Which channels this process can send on. A channel without credentials is absent, and
``describe`` says which setting switches it on, for /healthz and the start-up log."""
from __future__ import annotations

from channels.types import Channel, NotificationChannel

# The setting that switches each channel on; shown while it is off.
ENABLING_SETTING = {
    Channel.EMAIL: "ACKBOT_SMTP_HOST",
    Channel.SMS: "ACKBOT_TWILIO_ACCOUNT_SID",
    Channel.VOICE: "ACKBOT_TWILIO_ACCOUNT_SID",
    Channel.PUSH: "ACKBOT_VAPID_PRIVATE_KEY",
    Channel.SLACK: "ACKBOT_SLACK_CLIENT_ID",
    Channel.TEAMS: "ACKBOT_TEAMS_APP_ID",
}


def build_channels(settings, http_session) -> dict[Channel, NotificationChannel]:
    """The configured channels, keyed by name. Adapters join this as they are built; until
    then every channel is off."""
    return {}


def describe(channels) -> dict[str, str]:
    """{"email": "on"} or {"email": "off: set ACKBOT_SMTP_HOST"} for every channel."""
    return {
        channel.lower(): "on" if channel in channels else f"off: set {ENABLING_SETTING[channel]}"
        for channel in Channel
    }
