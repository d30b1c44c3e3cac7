"""Which channels this process can send on. A channel without credentials is absent, and
``describe`` says which setting switches it on, for /healthz and the start-up log."""
from __future__ import annotations

from channels.email import EmailChannel, SmtpConfig
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
    """The configured channels, keyed by name; a channel whose settings are missing is absent."""
    channels: dict[Channel, NotificationChannel] = {}
    if settings.smtp_host:
        channels[Channel.EMAIL] = EmailChannel(smtp_config(settings))
    return channels


def smtp_config(settings) -> SmtpConfig:
    default_port = 465 if settings.smtp_tls else 587 if settings.smtp_starttls else 25
    return SmtpConfig(
        host=settings.smtp_host, port=settings.smtp_port or default_port, sender=settings.email_from,
        username=settings.smtp_username,
        password=settings.smtp_password.reveal() if settings.smtp_password else "",
        starttls=settings.smtp_starttls, implicit_tls=settings.smtp_tls, ca_file=settings.smtp_ca_file,
        timeout=settings.send_timeout,
    )


def describe(channels) -> dict[str, str]:
    """{"email": "on"} or {"email": "off: set ACKBOT_SMTP_HOST"} for every channel."""
    return {
        channel.lower(): "on" if channel in channels else f"off: set {ENABLING_SETTING[channel]}"
        for channel in Channel
    }
