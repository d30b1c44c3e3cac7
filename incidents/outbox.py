"""The outbox: NotificationLog rows (pages to people) and TeamPost rows (cards in a team's
channel) are the queue the dispatcher works from.

Synchronous transactions, run inside ``database.run`` (``incidents.service`` wraps them).
Guarantees (the claiming rules are ``incidents.leases``):
- a row is claimed by one worker at a time, marked SENDING with a lease, and its attempt counted
  at claim, so an attempt cut short by a crash still counts;
- a SENDING row whose lease expired (its worker died) is claimed again; one that has used every
  attempt is FAILED instead;
- a result is recorded only by the worker that holds the claim.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache

from peewee import Field, fn

from incidents import leases, metrics
from incidents.action_tokens import mint_tokens
from incidents.lifecycle import EngineConfig, available_actions, record_event
from incidents.push_subscriptions import forget_endpoints
from incidents.team_post_outbox import (
    TeamPostDelivery,
    claim_due_team_posts,
    load_team_posts,
    record_team_post,
)
from storage.bulk import one_of
from storage.database import database, lock_rows, write_transaction
from storage.enums import Channel, DeliveryStatus, EventKind, IncidentStatus, NotificationKind
from storage.models import (
    Incident,
    NotificationLog,
    PushSubscription,
    SlackConnection,
    TeamPost,
    TeamsConnection,
    User,
)
from storage.rows import columns_of, from_row


@dataclass(frozen=True)
class Delivery:
    """Everything a channel needs to send one claimed notification; no database handle."""

    notification_id: int
    channel: Channel
    kind: NotificationKind
    attempt: int
    escalation_level: int | None
    message_reference: dict | None
    incident: Incident
    team_name: str
    user: User
    slack_user_id: str | None
    teams_reference: dict | None
    push_subscriptions: tuple[dict, ...]
    queued_at: datetime
    action_tokens: dict[str, str] = field(default_factory=dict)
    slack_team_id: str | None = None

    @property
    def label(self) -> str:
        return f"notification {self.notification_id}"


@dataclass(frozen=True)
class DeliveryOutcome:
    """A send's result as the outbox records it. For a failure, ``retry_at`` says when to try
    again; None means the failure is permanent. ``gone_endpoints``: the person's push
    subscriptions the push service disowned, deleted with the result."""

    success: bool
    provider_id: str | None = None
    error: str | None = None
    delivered_at: datetime | None = None
    message_reference: dict | None = None
    retry_at: datetime | None = None
    gone_endpoints: tuple[str, ...] = ()


def claim_due_notifications(
    worker_id: str, limit: int, config: EngineConfig, now: datetime
) -> list[Delivery | TeamPostDelivery]:
    """Claim up to ``limit`` due rows for ``worker_id`` (team posts first: there are few of them
    and each batch takes at most one per chat channel, then pages to people) and return what is
    needed to send them. One transaction, loading included: a claim whose deliveries could not be
    loaded (the database went away) is not left behind in SENDING until its lease runs out."""
    with write_transaction():
        return _claim(worker_id, limit, config, now)


def _claim(worker_id: str, limit: int, config: EngineConfig, now: datetime) -> list[Delivery | TeamPostDelivery]:
    post_ids = claim_due_team_posts(worker_id, limit, config, now)
    ids = _claim_pages(worker_id, limit - len(post_ids), config, now)
    pages = _with_action_links(load_deliveries(ids), config, now) if ids else []
    return [*load_team_posts(post_ids, config), *pages]


def _claim_pages(worker_id: str, limit: int, config: EngineConfig, now: datetime) -> list[int]:
    """Claim up to ``limit`` due pages (abandoned ones first); fail the abandoned ones that
    have used every attempt. Returns the claimed ids."""
    if limit <= 0:
        return []
    again, spent = leases.abandoned(NotificationLog, config, limit, now)
    for row in spent:
        _fail(row, leases.gave_up_message(row.attempt_count), now)
    ids = [row_id for (row_id,) in again]
    if ids:
        leases.claim(NotificationLog, ids, worker_id, config, now)
    if len(ids) < limit:
        ids += leases.claim_queued(NotificationLog, limit - len(ids), worker_id, config, now)
    return ids


def _with_action_links(deliveries: list[Delivery], config: EngineConfig, now: datetime) -> list[Delivery]:
    """Mint fresh one-time tokens for each page that carries action links (one per action, per
    recipient, per message)."""
    needing = [
        delivery for delivery in deliveries
        if config.channel_traits[delivery.channel].action_links and delivery.kind != NotificationKind.TEST
        and available_actions(delivery.incident.status)
    ]
    if not needing:
        return deliveries
    with write_transaction():
        tokens = mint_tokens(
            [
                (delivery.incident.id, delivery.user.id, delivery.channel, available_actions(delivery.incident.status))
                for delivery in needing
            ],
            config.action_link_ttl, now,
        )
    minted = {delivery.notification_id: minted_tokens for delivery, minted_tokens in zip(needing, tokens, strict=True)}
    return [
        replace(delivery, action_tokens=minted[delivery.notification_id]) if delivery.notification_id in minted else delivery
        for delivery in deliveries
    ]


_NO_SLACK = (None, None)  # (Slack user id, Slack team id) of a person with no Slack connection


# The page's own columns a delivery needs, then the team's name; the incident and the person
# follow whole (``columns_of``). Hand-written: peewee's joined select built four model instances
# a row through its cursor wrappers, most of a claim's cost.
_PAGE_FIELDS: tuple[Field, ...] = (
    NotificationLog.id, NotificationLog.channel, NotificationLog.kind,
    NotificationLog.attempt_count, NotificationLog.escalation_level, NotificationLog.queued_at,
    NotificationLog.message_reference,
)


@lru_cache(maxsize=64)
def _pages_sql(condition: str) -> str:
    page_columns = ", ".join(f'n."{field.column_name}"' for field in _PAGE_FIELDS)
    return (
        f'SELECT {page_columns}, tm."display_name", {columns_of(Incident, "i")}, {columns_of(User, "u")}'
        ' FROM "notification_log" AS "n" JOIN "incident" AS "i" ON i."id" = n."incident_id"'
        ' JOIN "user" AS "u" ON u."id" = n."user_id" LEFT JOIN "team" AS "tm" ON tm."id" = i."team_id"'
        f' WHERE {condition} ORDER BY n."id"'
    )


def _pages(ids: list[int]) -> list[Delivery]:
    """The claimed pages ``ids`` as deliveries, without the person's chat and push identities."""
    condition, params = one_of('n."id"', ids)
    pages = []
    for row in database.execute_sql(_pages_sql(condition), params).fetchall():
        page_id, channel, kind, attempts, level, queued_at, reference = (
            field.python_value(value) for field, value in zip(_PAGE_FIELDS, row, strict=False)
        )
        team_name, *rest = row[len(_PAGE_FIELDS):]
        incident, rest = from_row(Incident, rest)
        user, _ = from_row(User, rest)
        pages.append(Delivery(
            notification_id=page_id, channel=Channel(channel), kind=NotificationKind(kind), attempt=attempts,
            escalation_level=level, message_reference=reference, incident=incident, team_name=team_name or "",
            user=user, slack_user_id=None, teams_reference=None, push_subscriptions=(), queued_at=queued_at,
        ))
    return pages


def load_deliveries(ids: list[int]) -> list[Delivery]:
    pages = _pages(ids)
    slack_ids, teams_ids, push_ids = (
        {page.user.id for page in pages if page.channel == channel} for channel in (Channel.SLACK, Channel.TEAMS, Channel.PUSH)
    )
    # Each person's identities are loaded only for the channels that need them: a batch of SMS
    # pages makes one query, not four.
    slack = {
        user_id: (slack_user_id, slack_team_id)
        for user_id, slack_user_id, slack_team_id in SlackConnection.select(
            SlackConnection.user, SlackConnection.slack_user_id, SlackConnection.slack_team_id
        ).where(SlackConnection.user.in_(slack_ids) & SlackConnection.is_active).tuples()
    } if slack_ids else {}
    teams = dict(
        TeamsConnection.select(TeamsConnection.user, TeamsConnection.conversation_reference)
        .where(TeamsConnection.user.in_(teams_ids) & TeamsConnection.is_active).tuples()
    ) if teams_ids else {}
    push: dict[int, list[dict]] = {}
    for subscription in PushSubscription.select().where(PushSubscription.user.in_(push_ids)) if push_ids else ():
        push.setdefault(subscription.user_id, []).append(
            {"id": subscription.id, "endpoint": subscription.endpoint, "p256dh": subscription.p256dh, "auth": subscription.auth}
        )
    if not (slack or teams or push):
        return pages
    return [
        replace(
            page, slack_user_id=slack.get(page.user.id, _NO_SLACK)[0], slack_team_id=slack.get(page.user.id, _NO_SLACK)[1],
            teams_reference=teams.get(page.user.id), push_subscriptions=tuple(push.get(page.user.id, ())),
        )
        for page in pages
    ]


def record_outcomes(
    worker_id: str, results: list[tuple[Delivery | TeamPostDelivery, DeliveryOutcome]], config: EngineConfig, now: datetime
) -> list[DeliveryStatus | None]:
    """Record a batch of send results in one transaction; for each, the row's new status, or
    None when this worker no longer holds the claim (its lease expired and the row was claimed
    again, so the result of that send is not the row's to keep)."""
    with write_transaction():
        return _record(worker_id, results, config, now)


def record_and_claim(
    worker_id: str, results: list[tuple[Delivery | TeamPostDelivery, DeliveryOutcome]], limit: int,
    config: EngineConfig, now: datetime,
) -> tuple[list[DeliveryStatus | None], list[Delivery | TeamPostDelivery]]:
    """``record_outcomes``, then ``claim_due_notifications``, in one transaction: the rows this
    worker holds are never more than one batch, as when each is a transaction of its own."""
    with write_transaction():
        return _record(worker_id, results, config, now), _claim(worker_id, limit, config, now)


def _record(
    worker_id: str, results: list[tuple[Delivery | TeamPostDelivery, DeliveryOutcome]], config: EngineConfig, now: datetime
) -> list[DeliveryStatus | None]:
    pages = _record_pages(
        [(delivery, outcome) for delivery, outcome in results if isinstance(delivery, Delivery)], worker_id, config, now,
    )
    return [
        record_team_post(delivery, outcome, worker_id, config, now) if isinstance(delivery, TeamPostDelivery)
        else pages.get(delivery.notification_id)
        for delivery, outcome in results
    ]


def _record_pages(
    results: list[tuple[Delivery, DeliveryOutcome]], worker_id: str, config: EngineConfig, now: datetime
) -> dict[int, DeliveryStatus]:
    """Record pages' results (the row updates in as few statements as there are kinds of
    result), then their consequences; returns {notification id: new status} for the rows this
    worker still held."""
    changed = [
        (delivery, outcome, *leases.result_changes(NotificationLog, delivery.attempt, outcome, config, now))
        for delivery, outcome in results
    ]
    held = leases.record_all_held(
        NotificationLog, worker_id, [(delivery.notification_id, status, changes) for delivery, _, status, changes in changed]
    )
    recorded = {}
    for delivery, outcome, status, changes in changed:
        if delivery.notification_id not in held:
            continue
        recorded[delivery.notification_id] = status
        if outcome.gone_endpoints:
            forget_endpoints(delivery.user.id, outcome.gone_endpoints)
        _after(delivery.incident.id, delivery.user.id, delivery.user.name, delivery.channel, delivery.kind, status,
               changes.get(NotificationLog.error), now)
        metrics.observe_recorded(
            delivery.channel, delivery.kind, status, (now - delivery.queued_at).total_seconds(),
            status == DeliveryStatus.DELIVERED,
        )
    return recorded


def _after(incident_id, user_id, name, channel, kind, status, error, now) -> None:
    """The timeline and escalation consequences of a page's new status."""
    if kind != NotificationKind.ALERT:
        return
    if status == DeliveryStatus.DELIVERED:
        record_event(incident_id, EventKind.DELIVERED, f"{channel.lower()} page delivered to {name}", now,
                     user_id=user_id, channel=channel)
    elif status == DeliveryStatus.FAILED:
        record_event(incident_id, EventKind.FAILED, f"{channel.lower()} page to {name} failed: {error}", now,
                     user_id=user_id, channel=channel)
        # A failed page may make the next tier due at once: let the escalation loop look now.
        Incident.update(next_escalation_at=now).where(
            (Incident.id == incident_id) & (Incident.status == IncidentStatus.TRIGGERED)
        ).execute()


def _fail(row: NotificationLog, error: str, now: datetime) -> None:
    leases.give_up(NotificationLog, row.id, error)
    metrics.NOTIFICATIONS.labels(row.channel, row.kind, DeliveryStatus.FAILED).inc()
    _after(row.incident_id, row.user_id, _name(row.user_id), row.channel, row.kind, DeliveryStatus.FAILED, error, now)


def _name(user_id: int) -> str:
    user = User.select(User.name).where(User.id == user_id).first()
    return user.name if user else f"user {user_id}"


def record_receipt(provider_id: str, status: DeliveryStatus, error: str | None, now: datetime) -> bool:
    """Apply a provider's delivery receipt to the row it sent: SENT → DELIVERED, or → FAILED.
    Returns False when no row has that provider id. A receipt never moves a row backwards."""
    with write_transaction():
        row = lock_rows(NotificationLog.select().where(NotificationLog.provider_id == provider_id)).first()
        if row is None:
            return False
        if status == DeliveryStatus.DELIVERED and row.status == DeliveryStatus.SENT:
            NotificationLog.update(status=DeliveryStatus.DELIVERED, delivered_at=now).where(
                NotificationLog.id == row.id
            ).execute()
            metrics.observe_recorded(row.channel, row.kind, status, (now - row.queued_at).total_seconds(), True)
            _after(row.incident_id, row.user_id, _name(row.user_id), row.channel, row.kind, status, None, now)
        elif status == DeliveryStatus.FAILED and row.status in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED):
            _fail(row, error or "the provider reported the delivery failed", now)
    return True


def release_claims(worker_id: str, deliveries: list[Delivery | TeamPostDelivery], now: datetime) -> int:
    """Hand rows this worker claimed but will not finish back to the queue (on shutdown)."""
    posts = [delivery.post_id for delivery in deliveries if isinstance(delivery, TeamPostDelivery)]
    pages = [delivery.notification_id for delivery in deliveries if isinstance(delivery, Delivery)]
    with write_transaction():
        return leases.release(NotificationLog, worker_id, pages, now) + leases.release(TeamPost, worker_id, posts, now)


def queue_stats(now: datetime) -> tuple[int, float]:
    """(rows due and waiting, pages and team posts alike; seconds the oldest of them has waited)."""
    depth, oldest = 0, None
    for model in (NotificationLog, TeamPost):
        count, first = model.select(fn.COUNT(model.id), fn.MIN(model.next_attempt_at)).where(
            (model.status == DeliveryStatus.QUEUED) & (model.next_attempt_at <= now)
        ).tuples().get()
        if count:
            depth += count
            first = model.next_attempt_at.python_value(first)
            oldest = first if oldest is None else min(oldest, first)
    return depth, (now - oldest).total_seconds() if oldest else 0.0
