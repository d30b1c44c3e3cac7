"""The channel contract: what a channel is given, what it returns, and the shape every channel has.

The seed's ``types.ts`` in Python. Channel adapters import this module and ``channels.base``
only; the dispatcher builds a ``NotificationPayload`` from a ``NotificationLog`` row, calls
``send``, and records the ``ChannelDeliveryResult``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol, runtime_checkable

from incidents.channel_traits import ChannelTraits, Reach, StatusNotice, TeamChat
from incidents.tiers import ChannelEscalationConfig
from storage.enums import Channel, DeliveryStatus, NotificationKind, Priority, Tier

__all__ = [
    "Channel",
    "ChannelDeliveryResult",
    "ChannelEscalationConfig",
    "ChannelTraits",
    "DeliveryStatus",
    "NotificationAction",
    "NotificationChannel",
    "NotificationKind",
    "NotificationPayload",
    "Priority",
    "ProviderStatus",
    "Reach",
    "Recipient",
    "StatusNotice",
    "TeamChat",
    "Tier",
    "provider_status",
]


@dataclass(frozen=True)
class NotificationAction:
    """A button on an interactive card, or a link where a channel can carry only links.

    ``id`` is the action a click performs (e.g. ``"acknowledge"``); ``url`` is a one-time action
    link for channels that cannot carry buttons (email, push), ``None`` for chat buttons.
    """

    id: str
    label: str
    style: Literal["primary", "danger", "default"] = "default"
    url: str | None = None


@dataclass(frozen=True)
class Recipient:
    """The person being paged and each address a channel may reach them at, or a team's chat
    channel (then ``user_id`` is None and ``name`` is the team's).

    A channel uses only its own address; when that address is missing, the channel reports a
    permanent failure. ``time_zone`` is an IANA name used to show times in the person's zone.
    ``slack_team_id`` is the Slack workspace of ``slack_user_id`` or ``slack_channel_id`` (whose
    bot sends); ``slack_channel_id`` is a team's Slack channel, posted to directly;
    ``teams_reference`` is a Bot Framework conversation reference; ``push_subscriptions`` are
    Web Push subscriptions (endpoint and keys). Mappings here are read-only by convention.
    """

    user_id: int | None
    name: str
    email: str | None = None
    phone: str | None = None
    time_zone: str = "UTC"
    slack_user_id: str | None = None
    slack_team_id: str | None = None
    slack_channel_id: str | None = None
    teams_reference: Mapping | None = None
    push_subscriptions: tuple[Mapping, ...] = ()


@dataclass(frozen=True, kw_only=True)
class NotificationPayload:
    """Everything a channel needs to tell one person about one incident. Keyword-only.

    The incident, as in the seed: ``incident_id``, ``title``, ``body``, ``priority``,
    ``service``, ``team_name``, ``alert_count`` (alerts folded into the incident by dedup),
    ``escalation_level`` (the team level that paged this person; ``None`` for direct pages),
    ``dashboard_url`` and ``triggered_at`` (aware).

    Who and which delivery: ``user_id`` and ``recipient`` are the same person (None for a post
    to a team's channel); ``notification_id`` is the ``NotificationLog`` row this send is for (the
    ``TeamPost`` row for a team post), so a channel can put it in idempotency keys and callbacks.

    What kind of message: ``kind`` is an ALERT (a page), a STATUS notice (``status_text`` says
    what changed, e.g. "Acknowledged by Alice via Slack at 14:02") or a TEST. ``actions`` are the
    buttons or links to offer; ``incident_status`` is the incident's current status, so a card
    shows the right state. ``message_reference`` is what an earlier send of this page returned
    (``ChannelDeliveryResult.message_reference``); a channel that can edit its earlier message
    does so instead of posting a new one. ``incident_url`` is the incident's page in Ackbot's
    web view ("Open in Ackbot", beside the alert's own ``dashboard_url``).
    """

    incident_id: int
    user_id: int | None
    title: str
    body: str
    priority: Priority
    service: str
    team_name: str
    alert_count: int
    escalation_level: int | None
    dashboard_url: str | None
    triggered_at: datetime

    recipient: Recipient
    notification_id: int

    kind: NotificationKind = NotificationKind.ALERT
    actions: tuple[NotificationAction, ...] = ()
    incident_status: str = "TRIGGERED"
    status_text: str | None = None
    message_reference: Mapping | None = None
    incident_url: str | None = None

    def __post_init__(self) -> None:
        if self.triggered_at.tzinfo is None:
            raise ValueError("triggered_at must be timezone-aware")
        if self.recipient.user_id != self.user_id:
            raise ValueError("recipient.user_id must equal user_id")


@dataclass(frozen=True)
class ChannelDeliveryResult:
    """What one ``send`` achieved. Build it with the classmethods.

    Success: ``provider_id`` is the provider's message id; ``delivered_at`` is set when the
    provider confirmed delivery at once (the log row becomes DELIVERED, otherwise SENT);
    ``estimated_delivery`` is the provider's estimate for asynchronous channels;
    ``message_reference`` (JSON-serialisable, e.g. Slack channel and ts) identifies a posted
    message so it can be edited later.

    Failure: ``error`` says why, free of secrets. ``temporary`` failures may be retried, after at
    least ``retry_after`` seconds when the provider asked for a wait; other failures are final.

    Either way, ``gone_endpoints`` are push subscription endpoints the push service said no
    longer exist (404/410); the outbox deletes them.
    """

    success: bool
    provider_id: str | None = None
    error: str | None = None
    delivered_at: datetime | None = None
    estimated_delivery: datetime | None = None
    temporary: bool = False
    retry_after: float | None = None
    message_reference: Mapping | None = None
    gone_endpoints: tuple[str, ...] = ()

    @classmethod
    def sent(cls, provider_id: str | None = None, message_reference: Mapping | None = None) -> ChannelDeliveryResult:
        """Accepted by the provider; delivery not yet confirmed."""
        return cls(success=True, provider_id=provider_id, message_reference=message_reference)

    @classmethod
    def delivered(
        cls,
        provider_id: str | None = None,
        at: datetime | None = None,
        message_reference: Mapping | None = None,
    ) -> ChannelDeliveryResult:
        """Confirmed delivered, at ``at`` (default: now, UTC)."""
        return cls(
            success=True,
            provider_id=provider_id,
            delivered_at=at or datetime.now(UTC),
            message_reference=message_reference,
        )

    @classmethod
    def temporary_failure(cls, error: str, retry_after: float | None = None) -> ChannelDeliveryResult:
        """Not sent, but a later attempt may succeed (timeout, 5xx, rate limit)."""
        return cls(success=False, error=error, temporary=True, retry_after=retry_after)

    @classmethod
    def permanent_failure(cls, error: str) -> ChannelDeliveryResult:
        """Not sent, and retrying will not help (bad address, 4xx, revoked token, a bug)."""
        return cls(success=False, error=error)


@dataclass(frozen=True)
class ProviderStatus:
    """A channel's view of its provider's health."""

    healthy: bool
    latency_ms: float | None = None


@runtime_checkable
class NotificationChannel(Protocol):
    """A way of reaching people: one per ``Channel``.

    ``name`` is the ``Channel`` value the channel serves (e.g. ``Channel.SLACK``).

    A channel MAY also define ``async def get_provider_status(self) -> ProviderStatus``, which
    reports provider trouble as ``healthy=False`` rather than raising; a Protocol cannot declare
    an optional method, so callers use ``provider_status(channel)``.
    """

    name: Channel

    async def send(self, payload: NotificationPayload) -> ChannelDeliveryResult:
        """Deliver ``payload`` to ``payload.recipient``.

        Never raises for a delivery problem (only cancellation propagates). Returns a success
        (SENT, or DELIVERED when ``delivered_at`` is set) or a failure classified temporary or
        permanent, with a secret-free ``error``. Never touches the database: recording the result
        is the caller's job.
        """
        ...


async def provider_status(channel: NotificationChannel) -> ProviderStatus | None:
    """The channel's provider status, or ``None`` when the channel does not report one."""
    get_provider_status = getattr(channel, "get_provider_status", None)
    if get_provider_status is None:
        return None
    return await get_provider_status()
