"""Every table Ackbot keeps. The seed plan's models (NotificationLog, MagicLinkToken,
SlackConnection, TeamsConnection) keep its fields and indexes in snake_case; the rest are the
additions DESIGN.md names. All times are timezone-aware UTC; every token is encrypted at rest."""
from __future__ import annotations

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    ForeignKeyField,
    IntegerField,
    TextField,
)
from playhouse.pwasyncio import AsyncModel

from storage.database import database
from storage.enums import Channel, DeliveryStatus, IncidentStatus, NotificationKind, Priority
from storage.fields import EncryptedTextField, JSONTextField, UTCDateTimeField, utcnow


class BaseModel(AsyncModel):
    class Meta:
        database = database
        legacy_table_names = False


class Team(BaseModel):
    id = AutoField()
    name = CharField(unique=True)
    display_name = CharField()
    slack_channel = CharField(null=True)
    # The Slack workspace (team id) of slack_channel; needed only when several are installed.
    slack_workspace = CharField(null=True)
    teams_channel = CharField(null=True)
    # The people file's [routing] default_team: alerts nothing else places go here (one team at most).
    default_route = BooleanField(default=False)
    created_at = UTCDateTimeField(default=utcnow)


class User(BaseModel):
    id = AutoField()
    handle = CharField(unique=True)
    name = CharField()
    email = CharField(null=True, unique=True)
    phone = CharField(null=True, index=True)
    time_zone = CharField(default="UTC")
    is_active = BooleanField(default=True)
    # Sees every team's incidents and the delivery log in the web view.
    is_admin = BooleanField(default=False)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)


class TeamMember(BaseModel):
    team = ForeignKeyField(Team, backref="members", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")

    class Meta:
        indexes = ((("team", "user"), True),)


class ChannelPreference(BaseModel):
    """One channel in one of a user's tiers; a user with none gets the tiers the channels declare."""

    user = ForeignKeyField(User, backref="channel_preferences", on_delete="CASCADE")
    channel = CharField()
    tier = CharField()

    class Meta:
        indexes = ((("user", "channel"), True),)


class EscalationLevel(BaseModel):
    team = ForeignKeyField(Team, backref="escalation_levels", on_delete="CASCADE")
    level = IntegerField()
    delay_minutes = IntegerField()

    class Meta:
        indexes = ((("team", "level"), True),)


class EscalationTarget(BaseModel):
    escalation_level = ForeignKeyField(EscalationLevel, backref="targets", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="escalation_targets", on_delete="CASCADE")

    class Meta:
        indexes = ((("escalation_level", "user"), True),)


class OnCallSchedule(BaseModel):
    """An on-call schedule from the people file: its rotations (layers) and the file's overrides
    as JSON (``incidents.schedules.definition``). ``team`` may take its shifts."""

    id = AutoField()
    name = CharField(unique=True)
    team = ForeignKeyField(Team, null=True, backref="schedules", on_delete="SET NULL")
    time_zone = CharField()
    definition = JSONTextField()
    # A schedule with an ical_url: the last good copy of its feed, and how its loading goes.
    feed_shifts = JSONTextField(null=True)
    feed_loaded_at = UTCDateTimeField(null=True)
    feed_checked_at = UTCDateTimeField(null=True)
    feed_error = TextField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)


class LevelSchedule(BaseModel):
    """An escalation level pages whoever ``schedule`` has on call, beside its EscalationTargets."""

    escalation_level = ForeignKeyField(EscalationLevel, backref="schedule_targets", on_delete="CASCADE")
    schedule = ForeignKeyField(OnCallSchedule, backref="levels", on_delete="CASCADE")

    class Meta:
        indexes = ((("escalation_level", "schedule"), True),)


class ShiftOverride(BaseModel):
    """An override made from chat or the CLI: ``user`` is on call for ``schedule`` from
    ``starts_at`` to ``ends_at``. ``directory apply`` never touches these."""

    id = AutoField()
    schedule = ForeignKeyField(OnCallSchedule, backref="overrides", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    starts_at = UTCDateTimeField()
    ends_at = UTCDateTimeField(index=True)
    replaced = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    created_by = CharField()
    created_at = UTCDateTimeField(default=utcnow)


class Incident(BaseModel):
    """An incident; its id is the short number people use (#42)."""

    id = AutoField()
    title = CharField(max_length=500)
    body = TextField(default="")
    priority = CharField(default=Priority.HIGH)
    service = CharField(default="")
    team = ForeignKeyField(Team, null=True, backref="incidents", on_delete="SET NULL")
    status = CharField(default=IncidentStatus.TRIGGERED, index=True)
    dedup_key = CharField(null=True, index=True)
    # Equal to dedup_key while the incident is open and NULL once resolved: the unique index
    # makes "one open incident per dedup key" hold even with several instances racing.
    open_dedup_key = CharField(null=True, unique=True)
    alert_count = IntegerField(default=1)
    dashboard_url = CharField(null=True, max_length=2000)
    triggered_at = UTCDateTimeField(default=utcnow)
    acknowledged_at = UTCDateTimeField(null=True)
    acknowledged_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    acknowledged_via = CharField(null=True)
    acknowledged_by_name = CharField(null=True)
    resolved_at = UTCDateTimeField(null=True)
    resolved_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    resolved_via = CharField(null=True)
    resolved_by_name = CharField(null=True)
    escalation_level = IntegerField(default=1)
    escalated_at = UTCDateTimeField(null=True)
    next_escalation_at = UTCDateTimeField(null=True, index=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)


class IncidentEvent(BaseModel):
    """The timeline: what happened to an incident, who did it and through which channel."""

    id = AutoField()
    incident = ForeignKeyField(Incident, backref="events", on_delete="CASCADE")
    kind = CharField()
    user = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    channel = CharField(null=True)
    message = TextField(default="")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("incident", "created_at"), False),)


class HandoffNotice(BaseModel):
    """A hand-off announced: to the team's channels (``audience`` "team") or to the incoming person
    (``person``). The unique index makes it once per hand-off however many instances run."""

    id = AutoField()
    schedule = ForeignKeyField(OnCallSchedule, backref="+", on_delete="CASCADE")
    handoff_at = UTCDateTimeField()
    audience = CharField()
    user = ForeignKeyField(User, null=True, backref="+", on_delete="CASCADE")
    incident = ForeignKeyField(Incident, null=True, backref="+", on_delete="SET NULL")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("schedule", "handoff_at", "audience"), True),)


class CalendarToken(BaseModel):
    """A private calendar feed URL's token, for one person (``user``) or one ``schedule``; only its
    SHA-256 is stored. A new link for the same subject revokes the old one."""

    id = AutoField()
    token_hash = CharField(unique=True, max_length=64)
    user = ForeignKeyField(User, null=True, backref="+", on_delete="CASCADE")
    schedule = ForeignKeyField(OnCallSchedule, null=True, backref="+", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)
    revoked_at = UTCDateTimeField(null=True)


class PagedOnCall(BaseModel):
    """Whom a schedule had on call when an incident's escalation level was paged (``user`` NULL:
    nobody). Later evaluations of the level reuse it, so a hand-off mid-incident changes nobody's
    pages."""

    id = AutoField()
    incident = ForeignKeyField(Incident, backref="+", on_delete="CASCADE")
    level = IntegerField()
    schedule = ForeignKeyField(OnCallSchedule, backref="+", on_delete="CASCADE")
    user = ForeignKeyField(User, null=True, backref="+", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("incident", "level", "schedule"), True),)


class NotificationLog(BaseModel):
    """One row per (incident, user, channel, attempt series); the rows are also the outbox."""

    id = AutoField()
    incident = ForeignKeyField(Incident, backref="notification_logs", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="notification_logs", on_delete="CASCADE")
    channel = CharField()
    status = CharField(default=DeliveryStatus.QUEUED)
    provider_id = CharField(null=True, index=True, max_length=500)
    error = TextField(null=True)
    attempt_count = IntegerField(default=0)
    escalation_level = IntegerField(null=True)
    queued_at = UTCDateTimeField(default=utcnow)
    sent_at = UTCDateTimeField(null=True)
    delivered_at = UTCDateTimeField(null=True)
    last_attempt_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    tier = CharField(null=True)
    kind = CharField(default=NotificationKind.ALERT)
    next_attempt_at = UTCDateTimeField(default=utcnow)
    lease_expires_at = UTCDateTimeField(null=True)
    claimed_by = CharField(null=True)
    message_reference = JSONTextField(null=True)

    class Meta:
        indexes = (
            (("incident", "channel"), False),
            (("user", "status"), False),
            (("incident", "user", "channel"), False),
            (("status", "next_attempt_at"), False),
            (("status", "lease_expires_at"), False),
        )


class TeamPost(BaseModel):
    """A card about an incident posted to a team's chat channel (``slack_channel``, ``teams_channel``):
    the ALERT post, then a STATUS edit of it per state change. Like NotificationLog rows, these
    rows are an outbox the dispatcher claims, sends and records; they have no person."""

    id = AutoField()
    incident = ForeignKeyField(Incident, backref="team_posts", on_delete="CASCADE")
    team = ForeignKeyField(Team, backref="posts", on_delete="CASCADE")
    channel = CharField(default=Channel.SLACK)
    destination = CharField()
    workspace = CharField(null=True)
    kind = CharField(default=NotificationKind.ALERT)
    status = CharField(default=DeliveryStatus.QUEUED)
    provider_id = CharField(null=True, max_length=500)
    error = TextField(null=True)
    attempt_count = IntegerField(default=0)
    message_reference = JSONTextField(null=True)
    queued_at = UTCDateTimeField(default=utcnow)
    sent_at = UTCDateTimeField(null=True)
    delivered_at = UTCDateTimeField(null=True)
    last_attempt_at = UTCDateTimeField(null=True)
    next_attempt_at = UTCDateTimeField(default=utcnow)
    lease_expires_at = UTCDateTimeField(null=True)
    claimed_by = CharField(null=True)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("incident", "channel"), False),
            (("status", "next_attempt_at"), False),
            (("status", "lease_expires_at"), False),
        )


class MagicLinkToken(BaseModel):
    """A one-time action token; only its SHA-256 is stored."""

    id = AutoField()
    token_hash = CharField(unique=True, max_length=64)
    incident = ForeignKeyField(Incident, backref="magic_link_tokens", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    channel = CharField(default="EMAIL")
    action = CharField()
    used = BooleanField(default=False)
    used_at = UTCDateTimeField(null=True)
    expires_at = UTCDateTimeField()
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("incident", "action"), False),
            (("expires_at",), False),
        )


class SlackConnection(BaseModel):
    """A Slack user linked to an Ackbot user. ``access_token`` is the user token when the user
    went through the link flow, NULL when linked by matching email."""

    id = AutoField()
    user = ForeignKeyField(User, unique=True, backref="slack_connection", on_delete="CASCADE")
    access_token = EncryptedTextField(null=True)
    refresh_token = EncryptedTextField(null=True)
    token_expires_at = UTCDateTimeField(null=True)
    slack_user_id = CharField(unique=True)
    slack_team_id = CharField()
    slack_email = CharField(null=True)
    is_active = BooleanField(default=True)
    last_used_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)


class TeamsConnection(BaseModel):
    """A Teams user linked to an Ackbot user, with the conversation reference that lets the bot
    message them proactively. Tokens exist only after an OAuth sign-in."""

    id = AutoField()
    user = ForeignKeyField(User, unique=True, backref="teams_connection", on_delete="CASCADE")
    access_token = EncryptedTextField(null=True)
    refresh_token = EncryptedTextField(null=True)
    token_expires_at = UTCDateTimeField(null=True)
    teams_user_id = CharField(unique=True)
    teams_tenant_id = CharField()
    teams_email = CharField(null=True)
    aad_object_id = CharField(null=True, index=True)
    conversation_reference = JSONTextField(null=True)
    is_active = BooleanField(default=True)
    last_used_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)


class TeamsChannelReference(BaseModel):
    """A Teams team channel the bot was added to, for team posts."""

    id = AutoField()
    conversation_id = CharField(unique=True)
    teams_tenant_id = CharField()
    name = CharField(null=True)
    conversation_reference = JSONTextField()
    is_active = BooleanField(default=True)
    created_at = UTCDateTimeField(default=utcnow)


class SlackInstallation(BaseModel):
    """A workspace installation of the Slack app, as Bolt's installation store keeps it."""

    id = AutoField()
    client_id = CharField()
    app_id = CharField(null=True)
    enterprise_id = CharField(null=True)
    enterprise_name = CharField(null=True)
    team_id = CharField(null=True, index=True)
    team_name = CharField(null=True)
    is_enterprise_install = BooleanField(default=False)
    bot_token = EncryptedTextField(null=True)
    bot_refresh_token = EncryptedTextField(null=True)
    bot_token_expires_at = UTCDateTimeField(null=True)
    bot_id = CharField(null=True)
    bot_user_id = CharField(null=True)
    bot_scopes = TextField(null=True)
    user_id = CharField(null=True)
    user_token = EncryptedTextField(null=True)
    user_refresh_token = EncryptedTextField(null=True)
    user_token_expires_at = UTCDateTimeField(null=True)
    user_scopes = TextField(null=True)
    token_type = CharField(null=True)
    is_active = BooleanField(default=True)
    installed_at = UTCDateTimeField(default=utcnow)


class SlackOAuthState(BaseModel):
    """A pending OAuth state value: single use, short-lived."""

    id = AutoField()
    state = CharField(unique=True)
    expires_at = UTCDateTimeField()


class RoutingRuleRow(BaseModel):
    """One ``[[routing.rules]]`` entry of the people file, at its ``position`` (from 1)."""

    id = AutoField()
    position = IntegerField(unique=True)
    match = JSONTextField()
    team = ForeignKeyField(Team, backref="+", on_delete="CASCADE")
    priority = CharField(null=True)
    service = CharField(null=True)

    class Meta:
        table_name = "routing_rule"


class IncidentAlert(BaseModel):
    """One alert of a group an incident was opened for, by the sender's fingerprint: how many
    distinct alerts an incident has seen, and which still fire."""

    id = AutoField()
    incident = ForeignKeyField(Incident, backref="alerts", on_delete="CASCADE")
    fingerprint = CharField()
    firing = BooleanField(default=True)
    line = TextField(default="")
    priority = CharField(default=Priority.HIGH)
    first_seen_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("incident", "fingerprint"), True),)


class ApiKey(BaseModel):
    """An intake API key; only its SHA-256 is stored. ``team`` and ``service``: what alerts sent
    with it are bound to (see incidents.routing)."""

    id = AutoField()
    name = CharField(unique=True)
    key_hash = CharField(unique=True, max_length=64)
    prefix = CharField()
    team = ForeignKeyField(Team, null=True, backref="+", on_delete="SET NULL")
    service = CharField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    last_used_at = UTCDateTimeField(null=True)
    revoked_at = UTCDateTimeField(null=True)


class PushSubscription(BaseModel):
    """A browser's Web Push subscription; the auth secret is encrypted."""

    id = AutoField()
    user = ForeignKeyField(User, backref="push_subscriptions", on_delete="CASCADE")
    endpoint = CharField(unique=True, max_length=2000)
    p256dh = CharField(max_length=200)
    auth = EncryptedTextField()
    user_agent = CharField(null=True, max_length=500)
    created_at = UTCDateTimeField(default=utcnow)
    last_used_at = UTCDateTimeField(null=True)


class PersonalLinkToken(BaseModel):
    """A one-time credential for one person, about no incident (e.g. the push subscribe link and
    the registration credential of one visit to it, whose ``parent`` is the link); only its
    SHA-256 is stored."""

    id = AutoField()
    token_hash = CharField(unique=True, max_length=64)
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    purpose = CharField()
    parent = ForeignKeyField("self", null=True, backref="+", on_delete="CASCADE")
    used = BooleanField(default=False)
    used_at = UTCDateTimeField(null=True)
    expires_at = UTCDateTimeField(index=True)
    created_at = UTCDateTimeField(default=utcnow)


class WebSession(BaseModel):
    """A signed-in browser of the web view; only the SHA-256 of the session id in its cookie is
    stored, so the table cannot be used to sign in."""

    id = AutoField()
    session_hash = CharField(unique=True, max_length=64)
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField(index=True)
    last_seen_at = UTCDateTimeField(null=True)
    revoked_at = UTCDateTimeField(null=True)


class OpsgenieRequest(BaseModel):
    """The outcome of one Opsgenie Alert API request. Opsgenie answers every valid request 202
    with a request id at once; ``GET /v2/alerts/requests/{id}`` tells this outcome, to the key
    that made the request only."""

    id = AutoField()
    request_id = CharField(unique=True, max_length=36)
    # The key that made the request, by id: keys are revoked, never deleted.
    api_key_id = IntegerField()
    action = CharField()
    success = BooleanField()
    status = CharField()
    incident = ForeignKeyField(Incident, null=True, backref="+", on_delete="SET NULL")
    alias = CharField(default="", max_length=512)
    processed_at = UTCDateTimeField(index=True)


class Heartbeat(BaseModel):
    """A dead man's switch: a sender that must ping at least every ``timeout_seconds``. Only the
    SHA-256 of its ping key is stored. ``deadline_at`` is the last ping (or the creation) plus the
    timeout; ``expired_at`` is set, once, by the check that opened the incident for the current
    silence, and cleared by the next ping."""

    id = AutoField()
    name = CharField(unique=True)
    key_hash = CharField(unique=True, max_length=64)
    prefix = CharField()
    team = ForeignKeyField(Team, null=True, backref="heartbeats", on_delete="SET NULL")
    timeout_seconds = IntegerField()
    last_ping_at = UTCDateTimeField(null=True)
    deadline_at = UTCDateTimeField(index=True)
    expired_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)


class HandledWebhook(BaseModel):
    """A provider webhook that was answered, kept for a day so a replay runs nothing and gets the
    same answer (see incidents/webhook_replays.py). ``key`` is the SHA-256 of the webhook's
    identity; ``answer`` is None while the first delivery is still being handled."""

    id = AutoField()
    key = CharField(unique=True, max_length=64)
    answer = TextField(null=True)
    received_at = UTCDateTimeField(index=True)


class IntakeSignal(BaseModel):
    """An intake signal accepted while triggers waited past their budget, kept until it is
    worked (``incidents.intake_inbox``). ``action`` is ``trigger`` (``payload``: the
    ``TriggerRequest`` as JSON, ``incidents.intake.stored``), ``acknowledge`` or ``resolve``
    (``payload``: the dedup key and who acts); ``dedup_key`` is the signal's, so that an act on
    another process is kept behind it. ``claimed_by`` is the process that works it, until
    ``lease_expires_at``; after that another takes it over. ``failed_at`` is set on a signal that
    failed alone: it is kept, with ``error``, and worked no more."""

    id = AutoField()
    action = CharField(max_length=16)
    payload = TextField()
    dedup_key = CharField(null=True, index=True)
    api_key_id = IntegerField(null=True)  # not a foreign key: a key deleted meanwhile routes as none
    received_at = UTCDateTimeField()
    claimed_by = CharField()
    lease_expires_at = UTCDateTimeField(index=True)
    failed_at = UTCDateTimeField(null=True)
    error = TextField(null=True)

    class Meta:
        table_name = "intake_signal"
        indexes = ((("claimed_by", "id"), False),)


MODELS = (
    Team,
    User,
    TeamMember,
    ChannelPreference,
    EscalationLevel,
    EscalationTarget,
    OnCallSchedule,
    LevelSchedule,
    ShiftOverride,
    Incident,
    HandoffNotice,
    CalendarToken,
    IncidentEvent,
    PagedOnCall,
    NotificationLog,
    TeamPost,
    MagicLinkToken,
    SlackConnection,
    TeamsConnection,
    TeamsChannelReference,
    SlackInstallation,
    SlackOAuthState,
    RoutingRuleRow,
    IncidentAlert,
    ApiKey,
    PushSubscription,
    PersonalLinkToken,
    WebSession,
    OpsgenieRequest,
    Heartbeat,
    HandledWebhook,
    IntakeSignal,
)


def encrypted_columns():
    """(model, field) for every column encrypted at rest."""
    return [
        (model, field)
        for model in MODELS
        for field in model._meta.sorted_fields
        if isinstance(field, EncryptedTextField)
    ]
