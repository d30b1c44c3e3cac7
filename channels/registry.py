"""Every channel Ackbot has, and which of them this process can send on. A channel without
credentials is absent, and ``describe`` says which setting switches it on, for /healthz and the
start-up log. ``CHANNEL_TRAITS`` is what each adapter declares, for the incident rules."""
from __future__ import annotations

from channels.email import EmailChannel, SmtpConfig
from channels.push import PushChannel, PushConfig, public_key_of
from channels.slack import SlackAppCredentials, SlackChannel
from channels.sms import SmsChannel
from channels.teams import BotCredentials, BotFrameworkToken, TeamsChannel
from channels.twilio_client import TwilioAccount, TwilioApi
from channels.types import Channel, ChannelTraits, NotificationChannel
from channels.voice import VoiceChannel
from incidents.channel_traits import default_tiers
from incidents.slack_workspaces import StoredBotTokens

# Every adapter, in the order a person's default tiers list its channel.
ADAPTERS = (EmailChannel, SlackChannel, TeamsChannel, PushChannel, SmsChannel, VoiceChannel)

# The traits of every channel, enabled or not: rows and tiers may name a channel switched off.
CHANNEL_TRAITS: dict[Channel, ChannelTraits] = {Channel(adapter.name): adapter.traits for adapter in ADAPTERS}

# The tiers of a person who chose none.
DEFAULT_CHANNEL_ESCALATION = default_tiers(CHANNEL_TRAITS)

# The setting that switches each channel on; shown while it is off.
ENABLING_SETTING = {
    Channel.EMAIL: "ACKBOT_SMTP_HOST",
    Channel.SMS: "ACKBOT_TWILIO_ACCOUNT_SID, ACKBOT_TWILIO_AUTH_TOKEN and ACKBOT_TWILIO_FROM_NUMBER",
    Channel.VOICE: "ACKBOT_TWILIO_ACCOUNT_SID, ACKBOT_TWILIO_AUTH_TOKEN and ACKBOT_TWILIO_FROM_NUMBER",
    Channel.PUSH: "ACKBOT_VAPID_PRIVATE_KEY",
    Channel.SLACK: "ACKBOT_SLACK_CLIENT_ID, ACKBOT_SLACK_CLIENT_SECRET and ACKBOT_SLACK_SIGNING_SECRET",
    Channel.TEAMS: "ACKBOT_TEAMS_APP_ID",
}


def build_channels(settings, http_session) -> dict[Channel, NotificationChannel]:
    """The configured channels, keyed by name; a channel whose settings are missing is absent."""
    channels: dict[Channel, NotificationChannel] = {}
    if settings.smtp_host:
        channels[Channel.EMAIL] = EmailChannel(smtp_config(settings))
    if settings.vapid_private_key:
        channels[Channel.PUSH] = PushChannel(push_config(settings), http_session)
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number:
        twilio = TwilioApi(twilio_account(settings), http_session)
        channels[Channel.SMS] = SmsChannel(twilio, settings.public_url)
        channels[Channel.VOICE] = VoiceChannel(twilio, settings.public_url)
    teams = BotCredentials.from_settings(settings)
    if teams.problem() is None:
        channels[Channel.TEAMS] = TeamsChannel(BotFrameworkToken(teams, http_session), http_session)
    if settings.slack_client_id and settings.slack_client_secret and settings.slack_signing_secret:
        channels[Channel.SLACK] = slack_channel(settings, http_session)
    return channels


def slack_channel(settings, http_session) -> SlackChannel:
    """Slack DMs with the bot token of each person's workspace, read from the installations."""
    return SlackChannel(
        settings.slack_api_url, http_session, StoredBotTokens(settings.slack_client_id),
        SlackAppCredentials(settings.slack_client_id, settings.slack_client_secret.reveal()),
    )


def twilio_account(settings) -> TwilioAccount:
    return TwilioAccount(
        account_sid=settings.twilio_account_sid, auth_token=settings.twilio_auth_token.reveal(),
        from_number=settings.twilio_from_number, api_url=settings.twilio_api_url, timeout=settings.send_timeout,
    )


def push_config(settings) -> PushConfig:
    # Each push service must answer within the dispatcher's send timeout, with room to report
    # the subscriptions that are gone.
    return PushConfig(
        private_key=settings.vapid_private_key.reveal(), subject=settings.vapid_subject,
        ttl=int(min(settings.magic_link_ttl, 28 * 86400)), timeout=settings.send_timeout * 0.8,
    )


def push_public_key(settings) -> str | None:
    """The VAPID public key browsers subscribe with; None while push is off."""
    return public_key_of(settings.vapid_private_key.reveal()) if settings.vapid_private_key else None


def smtp_config(settings) -> SmtpConfig:
    default_port = 465 if settings.smtp_tls else 587 if settings.smtp_starttls else 25
    return SmtpConfig(
        host=settings.smtp_host, port=settings.smtp_port or default_port, sender=settings.email_from,
        username=settings.smtp_username,
        password=settings.smtp_password.reveal() if settings.smtp_password else "",
        starttls=settings.smtp_starttls, implicit_tls=settings.smtp_tls, ca_file=settings.smtp_ca_file,
        timeout=settings.send_timeout,
    )


def push_off_reason(settings) -> str | None:
    """Why push is off on PostgreSQL, where its key is never generated (every instance must sign
    with the same one); None where push is on or its key is generated."""
    if settings.vapid_private_key or settings.is_embedded:
        return None
    return (
        "set ACKBOT_VAPID_PRIVATE_KEY: it is required with PostgreSQL, where all instances share one key"
        " (make one with `ackbot vapid generate`)"
    )


def describe(channels, settings=None) -> dict[str, str]:
    """{"email": "on"} or {"email": "off: set ACKBOT_SMTP_HOST"} for every channel; with
    ``settings``, push off on PostgreSQL says why."""
    states = {
        channel.lower(): "on" if channel in channels else f"off: set {ENABLING_SETTING[channel]}"
        for channel in Channel
    }
    reason = push_off_reason(settings) if settings is not None and Channel.PUSH not in channels else None
    if reason:
        states[Channel.PUSH.lower()] = f"off: {reason}"
    return states
