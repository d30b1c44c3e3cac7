"""Every channel Ackbot has, and which of them this process can send on. A channel without
credentials is absent, and ``describe`` says which setting switches it on, for /healthz and the
start-up log. ``CHANNEL_TRAITS`` is what each adapter declares, for the incident rules."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from channels.email import EmailChannel, SmtpConfig
from channels.push import PushChannel, PushConfig
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


@dataclass(frozen=True)
class ChannelConfigs:
    """Each channel's configuration, built from the settings by ``app.py``; None switches that
    channel off. ``public_url`` is where SMS and voice status callbacks point."""

    public_url: str
    smtp: SmtpConfig | None = None
    push: PushConfig | None = None
    twilio: TwilioAccount | None = None
    slack: SlackAppCredentials | None = None
    slack_api_url: str = "https://slack.com/api/"
    teams: BotCredentials | None = None


def build_channels(configs: ChannelConfigs, http_session) -> dict[Channel, NotificationChannel]:
    """The configured channels, keyed by name; a channel without configuration is absent."""
    channels: dict[Channel, NotificationChannel] = {}
    if configs.smtp:
        channels[Channel.EMAIL] = EmailChannel(configs.smtp)
    if configs.push:
        channels[Channel.PUSH] = PushChannel(configs.push, http_session)
    if configs.twilio:
        twilio = TwilioApi(configs.twilio, http_session)
        channels[Channel.SMS] = SmsChannel(twilio, configs.public_url)
        channels[Channel.VOICE] = VoiceChannel(twilio, configs.public_url)
    if configs.teams:
        channels[Channel.TEAMS] = TeamsChannel(BotFrameworkToken(configs.teams, http_session), http_session)
    if configs.slack:
        # Slack DMs with the bot token of each person's workspace, read from the installations.
        tokens = StoredBotTokens(configs.slack.client_id)
        channels[Channel.SLACK] = SlackChannel(configs.slack_api_url, http_session, tokens, configs.slack)
    return channels


def describe(channels, off_reasons: Mapping[Channel, str] | None = None) -> dict[str, str]:
    """{"email": "on"} or {"email": "off: set ACKBOT_SMTP_HOST"} for every channel; a channel in
    ``off_reasons`` that is off says that reason instead."""
    reasons = off_reasons or {}
    return {
        channel.lower(): "on" if channel in channels else f"off: {reasons.get(channel) or 'set ' + ENABLING_SETTING[channel]}"
        for channel in Channel
    }
