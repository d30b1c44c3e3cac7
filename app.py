"""Ackbot's composition root: settings from the environment, the aiohttp application, the CLI.

Nothing imports this module. Everything below it receives what it needs as arguments.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
from dataclasses import dataclass, field, fields
from datetime import timedelta
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import ClientSession, ClientTimeout, web

from bot import (
    api,
    calendar_feed,
    cli,
    grafana,
    heartbeats,
    ical_feeds,
    links,
    oncall,
    operations,
    opsgenie,
    pagerduty,
    phone,
    schedules_api,
)
from bot import push as push_page
from bot import teams as teams_bot
from bot import web as web_view
from bot.access_log import RedactingAccessLogger, install_log_filters
from bot.app_keys import CHANNEL_STATES_KEY, CHANNELS_KEY, DISPATCHER_KEY, FEEDS_KEY, HTTP_KEY, SERVICE_KEY
from bot.slack import routes as slack_routes
from bot.slack.config import SlackConfig
from bot.teams.config import TeamsConfig
from channels.dispatcher import Dispatcher, DispatcherConfig
from channels.email import SmtpConfig
from channels.push import PushConfig, check_vapid_subject, generate_vapid_keys, load_vapid_key, public_key_of
from channels.registry import CHANNEL_TRAITS, ChannelConfigs, build_channels
from channels.registry import describe as describe_channels
from channels.slack import SlackAppCredentials
from channels.teams import BotCredentials
from channels.twilio_client import TwilioAccount
from incidents import people
from incidents.push_links import SubscribeLinks
from incidents.service import EngineConfig, IncidentService
from incidents.web_sessions import WebSessions
from incidents.web_views import WebViews
from storage import key_files
from storage import keyring as keyring_module
from storage.database import (
    DatabaseURLError,
    close_database,
    database,
    open_database,
    safe_url,
)
from storage.enums import Channel
from storage.fields import use_keyring, utcnow
from storage.keyring import Keyring, KeyringError
from storage.migrations import migrate, pending_migrations
from storage.rotation import find_missing_key

log = logging.getLogger("ackbot")


class SettingsError(Exception):
    """A setting is invalid; the message names the variable."""


class Secret:
    """A secret setting: its repr and str never show the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _text(value: str) -> str:
    return value.strip()


def _port(value: str) -> int:
    number = _integer(value)
    if not 1 <= number <= 65535:
        raise ValueError(f"expected a port number from 1 to 65535, got {value!r}")
    return number


def _integer(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"expected a whole number, got {value!r}") from None
    if number < 0:
        raise ValueError(f"expected a number of 0 or more, got {value!r}")
    return number


def _positive_number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not number > 0:
        raise ValueError(f"expected a number above 0, got {value!r}")
    return number


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value.strip().rstrip("/")


def _database_url(value: str) -> str:
    if urlsplit(value).scheme not in ("sqlite", "postgresql", "postgres"):
        raise ValueError("expected sqlite:///path/to/file.db or postgresql://user@host/db")
    return value.strip()


def _key_list(value: str) -> tuple[Secret, ...]:
    keys = tuple(Secret(part.strip()) for part in value.split(",") if part.strip())
    if not keys:
        raise ValueError("expected one or more comma-separated keys")
    try:
        Keyring(tuple(key.reveal() for key in keys))
    except KeyringError as error:
        raise ValueError(str(error)) from None
    return keys


def _secret(value: str) -> Secret:
    return Secret(value.strip())


def _vapid_key(value: str) -> Secret:
    load_vapid_key(value)  # raises ValueError saying which forms are accepted
    return Secret(value.strip())


def _vapid_subject(value: str) -> str:
    return check_vapid_subject(value.strip())  # raises ValueError saying what push services accept


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: str) -> float:
    """Seconds from "90", "90s", "15m", "24h" or "7d"."""
    text = value.strip().lower()
    unit = _DURATION_UNITS.get(text[-1:], None)
    number = text[:-1] if unit else text
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise ValueError(f"expected a duration like 900, 15m, 24h or 7d, got {value!r}") from None
    if not seconds > 0:
        raise ValueError(f"expected a duration above 0, got {value!r}")
    return seconds


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(f"expected DEBUG, INFO, WARNING or ERROR, got {value!r}")
    return level


def setting(env: str, default, parse, help: str):
    """A settings field read from ``env`` with ``parse``; ``help`` is its README line."""
    return field(default=default, metadata={"env": env, "parse": parse, "help": help})


@dataclass(frozen=True)
class Settings:
    """Every setting Ackbot has, read from ``ACKBOT_*`` environment variables by ``from_env``."""

    data_dir: Path = setting(
        "ACKBOT_DATA_DIR", Path("ackbot-data"), lambda value: Path(value.strip()),
        "Folder for the embedded SQLite database and the generated encryption and Web Push keys; created if missing.",
    )
    database_url: str = setting(
        "ACKBOT_DATABASE_URL", "", _database_url,
        "`sqlite:///path` or `postgresql://user:password@host:5432/db`. Default: SQLite in the data folder.",
    )
    host: str = setting("ACKBOT_HOST", "127.0.0.1", _text, "Address `ackbot serve` listens on.")
    port: int = setting("ACKBOT_PORT", 8080, _port, "Port `ackbot serve` listens on.")
    public_url: str = setting(
        "ACKBOT_PUBLIC_URL", "", _url,
        "The URL people and providers reach Ackbot at (links, callbacks, manifests). Default: `http://HOST:PORT`.",
    )
    encryption_keys: tuple[Secret, ...] = setting(
        "ACKBOT_ENCRYPTION_KEYS", (), _key_list,
        "Comma-separated encryption keys (`ackbot keys generate`); the first encrypts, all decrypt."
        " Unset on SQLite: a key is generated into the data folder. Required on PostgreSQL.",
    )
    max_body_bytes: int = setting(
        "ACKBOT_MAX_BODY_BYTES", 1024 * 1024, _integer, "Largest request body accepted; larger gets 413.",
    )
    database_pool_size: int = setting(
        "ACKBOT_DATABASE_POOL_SIZE", 10, _integer, "Database connections per process.",
    )
    log_level: str = setting("ACKBOT_LOG_LEVEL", "INFO", _log_level, "DEBUG, INFO, WARNING or ERROR.")
    dispatcher: bool = setting(
        "ACKBOT_DISPATCHER", True, _boolean,
        "Run the dispatcher inside `ackbot serve` (false: leave sending to `ackbot worker` processes).",
    )
    poll_interval: float = setting(
        "ACKBOT_POLL_INTERVAL", 2.0, _positive_number,
        "Seconds between looks for work queued by other processes (work queued in-process wakes it at once).",
    )
    batch_size: int = setting("ACKBOT_BATCH_SIZE", 50, _integer, "Notifications one dispatcher claims at a time.")
    lease_seconds: float = setting(
        "ACKBOT_LEASE_SECONDS", 60.0, _positive_number,
        "How long a claimed notification stays claimed; after that a crashed worker's rows are claimed again.",
    )
    send_timeout: float = setting(
        "ACKBOT_SEND_TIMEOUT", 10.0, _positive_number, "Seconds a provider has to answer one send (then: temporary failure).",
    )
    max_attempts: int = setting(
        "ACKBOT_MAX_ATTEMPTS", 5, _integer, "Attempts per notification before it is FAILED.",
    )
    backoff_base: float = setting(
        "ACKBOT_BACKOFF_BASE_SECONDS", 2.0, _positive_number, "First retry delay; doubles per attempt, with jitter.",
    )
    backoff_cap: float = setting(
        "ACKBOT_BACKOFF_CAP_SECONDS", 300.0, _positive_number, "Longest retry delay (a provider's Retry-After still wins).",
    )
    tier_timeout_minutes: float = setting(
        "ACKBOT_TIER_TIMEOUT_MINUTES", 5.0, _positive_number,
        "Minutes an unacknowledged page waits before the person's next channel tier (SMS, then voice).",
    )
    intake_wait_ms: int = setting(
        "ACKBOT_INTAKE_WAIT_MS", 250, _integer,
        "Longest a trigger may be expected to take before intake keeps the alert in the inbox and answers"
        " 202 at once (0: always).",
    )
    ical_refresh_minutes: float = setting(
        "ACKBOT_ICAL_REFRESH_MINUTES", 5.0, _positive_number,
        "Minutes between loads of each schedule's calendar feed (ical_url).",
    )
    handoff_notice_minutes: float = setting(
        "ACKBOT_HANDOFF_NOTICE_MINUTES", 15.0, _positive_number,
        "Minutes before a shift starts that the incoming person is told (the team's channels at the hand-off).",
    )

    smtp_host: str = setting("ACKBOT_SMTP_HOST", "", _text, "SMTP server for email; unset switches email off.")
    smtp_port: int = setting("ACKBOT_SMTP_PORT", 0, _port, "SMTP port. Default: 465 with ACKBOT_SMTP_TLS, else 587.")
    smtp_username: str = setting("ACKBOT_SMTP_USERNAME", "", _text, "SMTP login (optional).")
    smtp_password: Secret | None = setting("ACKBOT_SMTP_PASSWORD", None, _secret, "SMTP password (optional).")
    smtp_starttls: bool = setting("ACKBOT_SMTP_STARTTLS", True, _boolean, "Upgrade the SMTP connection with STARTTLS.")
    smtp_tls: bool = setting("ACKBOT_SMTP_TLS", False, _boolean, "Connect with implicit TLS (port 465 style).")
    smtp_ca_file: str = setting(
        "ACKBOT_SMTP_CA_FILE", "", _text, "CA bundle to verify the SMTP server with (default: the system's).",
    )
    email_from: str = setting("ACKBOT_EMAIL_FROM", "ackbot@localhost", _text, "From address of Ackbot's email.")
    magic_link_ttl: float = setting(
        "ACKBOT_MAGIC_LINK_TTL", 24 * 3600.0, _duration,
        "How long an email or push action link works (e.g. 30m, 24h); it is void once the incident is resolved.",
    )

    slack_client_id: str = setting("ACKBOT_SLACK_CLIENT_ID", "", _text, "Slack app client id; unset switches Slack off.")
    slack_client_secret: Secret | None = setting("ACKBOT_SLACK_CLIENT_SECRET", None, _secret, "Slack app client secret.")
    slack_signing_secret: Secret | None = setting(
        "ACKBOT_SLACK_SIGNING_SECRET", None, _secret, "Slack signing secret (verifies every request from Slack).",
    )
    slack_api_url: str = setting(
        "ACKBOT_SLACK_API_URL", "https://slack.com/api/", _url, "Slack Web API base URL (tests point it at a fake).",
    )

    teams_app_id: str = setting("ACKBOT_TEAMS_APP_ID", "", _text, "Bot Framework app id; unset switches Teams off.")
    teams_app_password: Secret | None = setting("ACKBOT_TEAMS_APP_PASSWORD", None, _secret, "Bot Framework app password.")
    teams_app_type: str = setting(
        "ACKBOT_TEAMS_APP_TYPE", "MultiTenant", _text, "MultiTenant, SingleTenant or UserAssignedMSI.",
    )
    teams_tenant_id: str = setting("ACKBOT_TEAMS_TENANT_ID", "", _text, "The app's tenant (SingleTenant apps).")
    teams_oauth_connection: str = setting(
        "ACKBOT_TEAMS_OAUTH_CONNECTION", "", _text, "Bot Framework OAuth connection name for `link` (optional).",
    )
    teams_openid_metadata_url: str = setting(
        "ACKBOT_TEAMS_OPENID_METADATA_URL", "https://login.botframework.com/v1/.well-known/openidconfiguration", _url,
        "Where the Bot Framework's token signing keys are published (tests use their own).",
    )
    teams_token_url: str = setting(
        "ACKBOT_TEAMS_TOKEN_URL", "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token", _url,
        "Where the bot gets its own tokens for proactive messages (tests use a fake).",
    )
    teams_token_service_url: str = setting(
        "ACKBOT_TEAMS_TOKEN_SERVICE_URL", "https://api.botframework.com", _url,
        "The Bot Framework token service that runs the OAuth sign-in of `link` (tests use a fake).",
    )

    twilio_account_sid: str = setting("ACKBOT_TWILIO_ACCOUNT_SID", "", _text, "Twilio account SID; unset switches SMS and voice off.")
    twilio_auth_token: Secret | None = setting("ACKBOT_TWILIO_AUTH_TOKEN", None, _secret, "Twilio auth token.")
    twilio_auth_token_secondary: Secret | None = setting(
        "ACKBOT_TWILIO_AUTH_TOKEN_SECONDARY", None, _secret, "Twilio's secondary auth token, accepted during rotation.",
    )
    twilio_from_number: str = setting("ACKBOT_TWILIO_FROM_NUMBER", "", _text, "The E.164 number SMS and calls come from.")
    twilio_api_url: str = setting(
        "ACKBOT_TWILIO_API_URL", "https://api.twilio.com", _url, "Twilio REST API base URL (tests point it at a fake).",
    )

    web_link_ttl: float = setting(
        "ACKBOT_WEB_LINK_TTL", 15 * 60.0, _duration, "How long a web view sign-in link works (it works once).",
    )
    web_session_ttl: float = setting(
        "ACKBOT_WEB_SESSION_TTL", 7 * 24 * 3600.0, _duration, "How long a web view sign-in lasts before signing in again.",
    )

    vapid_private_key: Secret | None = setting(
        "ACKBOT_VAPID_PRIVATE_KEY", None, _vapid_key,
        "Web Push VAPID private key (`ackbot vapid generate`). Unset on SQLite: a key is generated into the data folder."
        " Required on PostgreSQL (unset: push is off).",
    )
    vapid_subject: str = setting(
        "ACKBOT_VAPID_SUBJECT", "mailto:ackbot@localhost", _vapid_subject, "Contact for push services: mailto: or https: URL.",
    )

    @classmethod
    def from_env(cls, environ=None) -> Settings:
        """Settings from ``environ`` (default ``os.environ``); raises SettingsError naming the variable."""
        environ = os.environ if environ is None else environ
        values = {}
        for item in fields(cls):
            raw = environ.get(item.metadata["env"])
            if raw is None or raw.strip() == "":
                continue
            try:
                values[item.name] = item.metadata["parse"](raw)
            except ValueError as error:
                raise SettingsError(f"{item.metadata['env']}: {error}") from None
        return cls(**values).with_defaults().checked()

    def checked(self) -> Settings:
        """Refuse combinations that would break a promise: a lease shorter than a send may take
        would let a second worker resend rows a slow but live worker is still sending."""
        if self.database_pool_size < 3:
            # The server keeps one connection for start-up and one for the dispatcher; requests need more.
            raise SettingsError(f"ACKBOT_DATABASE_POOL_SIZE: must be 3 or more, got {self.database_pool_size}")
        if self.lease_seconds <= self.send_timeout + 5:
            raise SettingsError(
                f"ACKBOT_LEASE_SECONDS: must exceed ACKBOT_SEND_TIMEOUT ({self.send_timeout:g}s) by more than 5s,"
                f" got {self.lease_seconds:g}s"
            )
        return self

    def with_defaults(self) -> Settings:
        """Fill the defaults that depend on other settings."""
        changes = {}
        if not self.database_url:
            changes["database_url"] = f"sqlite:///{(self.data_dir / 'ackbot.db').absolute()}"
        if not self.public_url:
            changes["public_url"] = f"http://{self.host}:{self.port}"
        return self.replace(**changes) if changes else self

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def is_embedded(self) -> bool:
        return self.database_url.startswith("sqlite:")

    def engine_config(self, enabled_channels) -> EngineConfig:
        return EngineConfig(
            enabled_channels=frozenset(enabled_channels),
            channel_traits=CHANNEL_TRAITS,
            tier_timeout=timedelta(minutes=self.tier_timeout_minutes),
            max_attempts=max(1, self.max_attempts),
            lease=timedelta(seconds=self.lease_seconds),
            action_link_ttl=timedelta(seconds=self.magic_link_ttl),
            handoff_lead=timedelta(minutes=self.handoff_notice_minutes),
            intake_wait=timedelta(milliseconds=self.intake_wait_ms),
        )

    def web_sessions(self, clock=utcnow) -> WebSessions:
        return WebSessions(
            self.public_url, timedelta(seconds=self.web_link_ttl), timedelta(seconds=self.web_session_ttl), clock,
        )

    def dispatcher_config(self) -> DispatcherConfig:
        return DispatcherConfig(
            batch_size=max(1, self.batch_size), poll_interval=self.poll_interval, send_timeout=self.send_timeout,
            backoff_base=self.backoff_base, backoff_cap=self.backoff_cap, public_url=self.public_url,
        )


# --- storage start-up ------------------------------------------------------------------------


def resolve_keyring(settings: Settings) -> Keyring:
    """The configured keyring, or on the embedded default a key kept in the data folder."""
    if settings.encryption_keys:
        return Keyring(tuple(key.reveal() for key in settings.encryption_keys))
    if not settings.is_embedded:
        raise SettingsError(
            "ACKBOT_ENCRYPTION_KEYS: required with PostgreSQL, so every instance shares the keys"
            " (make one with `ackbot keys generate`)"
        )
    key, created = keyring_module.load_or_create_key_file(settings.data_dir)
    if created:
        log.warning(
            "generated an encryption key in %s; back it up, or set ACKBOT_ENCRYPTION_KEYS",
            settings.data_dir / keyring_module.KEY_FILE_NAME,
        )
    try:
        return Keyring((key,))
    except KeyringError as error:
        raise SettingsError(f"{settings.data_dir / keyring_module.KEY_FILE_NAME}: {error}") from None


VAPID_KEY_FILE_NAME = "vapid.key"


def resolve_vapid_key(settings: Settings) -> Settings:
    """The settings with Web Push's key: the configured one, or on the embedded default one
    kept in the data folder. On PostgreSQL push stays off without ACKBOT_VAPID_PRIVATE_KEY."""
    if settings.vapid_private_key or not settings.is_embedded:
        return settings
    path = settings.data_dir / VAPID_KEY_FILE_NAME
    key, created = key_files.load_or_create(path, lambda: generate_vapid_keys()[0])
    if created:
        log.warning("generated a Web Push (VAPID) key in %s; keep it (browsers subscribed with it), or set"
                    " ACKBOT_VAPID_PRIVATE_KEY", path)
    try:
        return settings.replace(vapid_private_key=_vapid_key(key))
    except ValueError as error:
        raise SettingsError(f"{path}: {error}") from None


async def open_storage(settings: Settings, apply_migrations: bool) -> None:
    """Open the database, install the keyring, migrate or check the schema, check stored keys.

    Raises SettingsError with one clear line when storage cannot be used as configured.
    """
    keyring = resolve_keyring(settings)
    use_keyring(keyring)
    try:
        open_database(settings.database_url, settings.database_pool_size)
    except DatabaseURLError as error:
        raise SettingsError(f"ACKBOT_DATABASE_URL: {error}") from None
    try:
        if apply_migrations:
            applied = await migrate()
            if applied:
                log.info("applied migrations: %s", ", ".join(applied))
        else:
            pending = await pending_migrations()
            if pending:
                raise SettingsError(
                    f"ACKBOT_DATABASE_URL: the schema is behind ({', '.join(pending)} pending); run `ackbot migrate`"
                )
        missing = await find_missing_key(keyring)
    except SettingsError:
        await close_database()
        raise
    except Exception as error:  # the driver's own errors differ per database
        await close_database()
        raise SettingsError(
            f"ACKBOT_DATABASE_URL: cannot use {safe_url(settings.database_url)}: {error}"
        ) from None
    if missing:
        await close_database()
        raise SettingsError(
            f"ACKBOT_ENCRYPTION_KEYS: stored data is encrypted with key id {missing}, which is not configured"
        )


# --- typed configuration: what each part gets from the settings (None: switched off) ---------


def smtp_config(settings: Settings) -> SmtpConfig | None:
    if not settings.smtp_host:
        return None
    default_port = 465 if settings.smtp_tls else 587 if settings.smtp_starttls else 25
    return SmtpConfig(
        host=settings.smtp_host, port=settings.smtp_port or default_port, sender=settings.email_from,
        username=settings.smtp_username,
        password=settings.smtp_password.reveal() if settings.smtp_password else "",
        starttls=settings.smtp_starttls, implicit_tls=settings.smtp_tls, ca_file=settings.smtp_ca_file,
        timeout=settings.send_timeout,
    )


def push_config(settings: Settings) -> PushConfig | None:
    if not settings.vapid_private_key:
        return None
    # Each push service must answer within the dispatcher's send timeout, with room to report
    # the subscriptions that are gone.
    return PushConfig(
        private_key=settings.vapid_private_key.reveal(), subject=settings.vapid_subject,
        ttl=int(min(settings.magic_link_ttl, 28 * 86400)), timeout=settings.send_timeout * 0.8,
    )


def subscribe_links(settings: Settings) -> SubscribeLinks | None:
    """The push subscribe links chat surfaces and the CLI hand out, while push is on."""
    if push_config(settings) is None:
        return None
    return SubscribeLinks(settings.public_url, timedelta(seconds=settings.magic_link_ttl))


def off_reasons(settings: Settings) -> dict[Channel, str]:
    """Why a channel is off where its enabling setting alone does not say: push on PostgreSQL,
    where the key is never generated because every instance must sign with the same one."""
    if settings.vapid_private_key or settings.is_embedded:
        return {}
    return {Channel.PUSH: "set ACKBOT_VAPID_PRIVATE_KEY: it is required with PostgreSQL, where all instances share"
                          " one key (make one with `ackbot vapid generate`)"}


def twilio_account(settings: Settings) -> TwilioAccount | None:
    """The account SMS and voice send with, when its SID, auth token and number are all set."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number):
        return None
    return TwilioAccount(
        account_sid=settings.twilio_account_sid, auth_token=settings.twilio_auth_token.reveal(),
        from_number=settings.twilio_from_number, api_url=settings.twilio_api_url, timeout=settings.send_timeout,
    )


def twilio_auth_tokens(settings: Settings) -> tuple[str, ...]:
    """The tokens Twilio's webhook signatures are checked with (the secondary during rotation)."""
    tokens = (settings.twilio_auth_token, settings.twilio_auth_token_secondary)
    return tuple(token.reveal() for token in tokens if token)


def slack_config(settings: Settings) -> SlackConfig | None:
    """Slack is on when its client id, client secret and signing secret are all set."""
    if not (settings.slack_client_id and settings.slack_client_secret and settings.slack_signing_secret):
        return None
    return SlackConfig(
        client_id=settings.slack_client_id, client_secret=settings.slack_client_secret.reveal(),
        signing_secret=settings.slack_signing_secret.reveal(), api_url=settings.slack_api_url,
        public_url=settings.public_url,
    )


def teams_config(settings: Settings) -> TeamsConfig:
    """The bot's configuration; it is off while ``credentials.problem()`` names a missing setting."""
    password = settings.teams_app_password.reveal() if settings.teams_app_password else None
    credentials = BotCredentials.create(
        settings.teams_app_id, password, settings.teams_app_type, settings.teams_tenant_id, settings.teams_token_url,
    )
    return TeamsConfig(
        credentials, settings.teams_openid_metadata_url, settings.teams_token_service_url,
        settings.teams_oauth_connection,
    )


def channel_configs(settings: Settings) -> ChannelConfigs:
    slack = slack_config(settings)
    teams = teams_config(settings).credentials
    return ChannelConfigs(
        public_url=settings.public_url, smtp=smtp_config(settings), push=push_config(settings),
        twilio=twilio_account(settings),
        slack=SlackAppCredentials(slack.client_id, slack.client_secret) if slack else None,
        slack_api_url=settings.slack_api_url,
        teams=teams if teams.problem() is None else None,
    )


# --- the application -------------------------------------------------------------------------


def create_app(settings: Settings, *, channels=None, clock=utcnow) -> web.Application:
    """The aiohttp application for ``settings``. Does no I/O: cleanup contexts open storage,
    the shared HTTP client and the delivery engine when the application starts.

    ``channels`` replaces the channels built from settings, and ``clock`` the wall clock (tests).
    """
    install_log_filters()
    middlewares = [operations.timing_middleware, operations.error_middleware(settings.max_body_bytes),
                   api.api_key_middleware]
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=middlewares)
    sessions = settings.web_sessions(clock)  # one for the web view and both chat surfaces
    push, push_links = push_config(settings), subscribe_links(settings)
    app.cleanup_ctx.append(storage_context(settings))
    app.cleanup_ctx.append(http_client_context)
    app.cleanup_ctx.append(engine_context(settings, channels, clock))
    app.cleanup_ctx.append(teams_bot.context(teams_config(settings), sessions, push_links))
    app.cleanup_ctx.append(slack_routes.slack_context(slack_config(settings), sessions, push_links))
    operations.add_routes(app)
    operations.watch_outages(app)
    api.add_routes(app)
    pagerduty.add_routes(app)
    opsgenie.add_routes(app)
    grafana.add_routes(app)
    oncall.add_routes(app)
    heartbeats.add_routes(app)
    schedules_api.add_routes(app)
    calendar_feed.add_routes(app)
    links.add_routes(app)
    push_page.add_routes(app, public_key_of(push.private_key) if push else None)
    phone.add_routes(app, settings.public_url, twilio_auth_tokens(settings))
    teams_bot.add_routes(app)
    slack_routes.add_routes(app)
    web_view.add_routes(app, web_config(settings, sessions, app))
    return app


def web_config(settings: Settings, sessions: WebSessions, app: web.Application) -> web_view.WebConfig:
    """The web view's sessions and reads; sign-in links are mailed when email is on."""

    async def mail_sign_in_link(address: str, url: str) -> None:
        email = app[CHANNELS_KEY][Channel.EMAIL]
        minutes = round(sessions.link_ttl.total_seconds() / 60)
        await email.send_text(
            address, "Your Ackbot sign-in link",
            f"Open this link to sign in to Ackbot. It works once, for {minutes} minutes:\n\n{url}\n\n"
            "If you did not ask for it, ignore this message.",
        )

    return web_view.WebConfig(
        sessions, WebViews(), secure_cookies=settings.public_url.startswith("https://"),
        mail_sign_in_link=mail_sign_in_link if smtp_config(settings) else None,
    )


def storage_context(settings: Settings):
    async def context(app: web.Application):
        await open_storage(settings, apply_migrations=settings.is_embedded)
        yield
        await close_database()

    return context


def http_session() -> ClientSession:
    """The process's one HTTP client session (every provider and feed call shares it)."""
    return ClientSession(timeout=ClientTimeout(total=30))


async def http_client_context(app: web.Application):
    session = http_session()
    app[HTTP_KEY] = session
    yield
    await session.close()


def build_engine(settings: Settings, channels, clock=utcnow) -> tuple[IncidentService, Dispatcher]:
    """The incident service and a dispatcher for ``channels``, the dispatcher woken by new work."""
    service = IncidentService(settings.engine_config(channels), clock=clock)
    dispatcher = Dispatcher(service, channels, settings.dispatcher_config())
    service.on_queued = dispatcher.wake
    return service, dispatcher


def engine_context(settings: Settings, channels, clock):
    async def context(app: web.Application):
        active = channels if channels is not None else build_channels(channel_configs(settings), app[HTTP_KEY])
        app[CHANNEL_STATES_KEY] = describe_channels(active, off_reasons(settings))
        app[CHANNELS_KEY] = active
        service, dispatcher = build_engine(settings, active, clock)
        app[SERVICE_KEY], app[DISPATCHER_KEY] = service, dispatcher
        task = asyncio.create_task(dispatcher.run()) if settings.dispatcher else None
        refresher = ical_feeds.FeedRefresher(service, app[HTTP_KEY], timedelta(minutes=settings.ical_refresh_minutes))
        app[FEEDS_KEY] = refresher
        feeds = asyncio.create_task(refresher.run()) if settings.dispatcher else None
        yield
        await service.stop()
        if feeds is not None:
            feeds.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeds
        if task is not None:
            await dispatcher.stop(task)

    return context


# --- the command line ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Parse, prepare what the command needs (``cli.Needs``) and run its handler."""
    args = cli.build_parser().parse_args(argv)
    try:
        if args.needs is cli.Needs.NOTHING:
            return args.handler(args)
        settings = Settings.from_env()
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.command in ("serve", "worker", "push-link"):
            settings = resolve_vapid_key(settings)
        if args.needs is cli.Needs.SETTINGS:
            return args.handler(args, command_context(settings))
        return asyncio.run(run_command(settings, args))
    except SettingsError as error:
        print(f"ackbot: error: {error}", file=sys.stderr)
        return 2
    except cli.CommandError as error:
        print(f"ackbot: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def command_context(settings: Settings) -> cli.Context:
    return cli.Context(
        service=IncidentService(settings.engine_config(())), public_url=settings.public_url,
        web_sessions=settings.web_sessions(), subscribe_links=subscribe_links(settings), teams=teams_config(settings),
        serve=partial(serve, settings), run_worker=partial(run_worker, settings),
    )


def serve(settings: Settings) -> int:
    app = create_app(settings)
    app.on_startup.append(partial(start_up_hints, off_reasons(settings)))
    log.info("ackbot %s starting on http://%s:%s (database %s)", cli.package_version(), settings.host, settings.port,
             safe_url(settings.database_url))
    web.run_app(
        app, host=settings.host, port=settings.port, print=None, access_log=log.getChild("access"),
        access_log_class=RedactingAccessLogger,
    )
    return 0


async def start_up_hints(reasons: dict[Channel, str], app: web.Application) -> None:
    """What an operator needs to hear at start: why push is off, and on an empty directory what to do first."""
    if reason := reasons.get(Channel.PUSH):
        log.warning("Web Push is off: %s", reason)
    if not await database.run(people.anyone_listed):
        log.warning("nobody is listed yet: apply a people file first (`ackbot directory apply people.example.toml`),"
                    " then `ackbot login-link <handle>` prints a link that opens the web view")


async def run_command(settings: Settings, args) -> int:
    """A handler that works on the database, with the database open (migrated first when the
    command needs it, and always on the embedded default)."""
    apply_migrations = args.needs is cli.Needs.MIGRATIONS or settings.is_embedded
    await open_storage(settings, apply_migrations=apply_migrations)
    try:
        return await args.handler(args, command_context(settings))
    finally:
        await close_database()


async def run_worker(settings: Settings) -> int:
    """The dispatcher alone, until SIGINT/SIGTERM; then it stops claiming and hands back what it
    could not finish."""
    async with http_session() as http:
        channels = build_channels(channel_configs(settings), http)
        service, dispatcher = build_engine(settings, channels)
        log.info("worker %s started; channels: %s", dispatcher.worker_id, describe_channels(channels, off_reasons(settings)))
        task = asyncio.create_task(dispatcher.run())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)
        await stop.wait()
        await dispatcher.stop(task)
        await service.stop()  # intake signals it took over and did not finish are handed on
    return 0


if __name__ == "__main__":
    sys.exit(main())
