"""Making the database match a parsed people file, writing only the rows that differ.

Synchronous peewee code: call inside ``database.run``. ``incidents.directory`` is the entry point.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import astuple, dataclass

from peewee import IntegrityError, fn

from incidents.directory_file import Directory, DirectoryError, ScheduleEntry, TeamEntry, UserEntry
from incidents.routing_store import routing_references, sync_routing
from incidents.schedules.definition import override_json, rotation_json
from storage.database import write_transaction
from storage.fields import utcnow
from storage.models import (
    ChannelPreference,
    EscalationLevel,
    EscalationTarget,
    LevelSchedule,
    OnCallSchedule,
    Team,
    TeamMember,
    User,
)


@dataclass
class Changes:
    """What an apply wrote, counted for its summary."""

    teams_created: int = 0
    teams_updated: int = 0
    users_created: int = 0
    users_updated: int = 0
    memberships_added: int = 0
    memberships_removed: int = 0
    users_with_new_tiers: int = 0
    teams_with_new_levels: int = 0
    routing_changed: int = 0
    schedules_created: int = 0
    schedules_updated: int = 0
    teams_with_new_level_schedules: int = 0

    def summary(self, directory: Directory) -> str:
        if not any(astuple(self)):
            return (
                f"applied {directory.source}: nothing changed, the database already matches it"
                f" ({_count(len(directory.teams), 'team')}, {_count(len(directory.users), 'user')})"
            )
        others = []
        if self.memberships_added or self.memberships_removed:
            others.append(
                f"team memberships {self.memberships_added} added, {self.memberships_removed} removed"
            )
        if self.users_with_new_tiers:
            others.append(f"channel tiers changed for {_count(self.users_with_new_tiers, 'user')}")
        if self.teams_with_new_levels:
            others.append(f"escalation levels changed for {_count(self.teams_with_new_levels, 'team')}")
        if self.routing_changed:
            others.append("routing changed")
        if self.schedules_created or self.schedules_updated:
            others.append(f"schedules {self.schedules_created} created, {self.schedules_updated} updated")
        if self.teams_with_new_level_schedules:
            others.append(f"level schedules changed for {_count(self.teams_with_new_level_schedules, 'team')}")
        return (
            f"applied {directory.source}: teams {self.teams_created} created, {self.teams_updated} updated;"
            f" users {self.users_created} created, {self.users_updated} updated;"
            f" {'; '.join(others) or 'no other changes'}"
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def sync_directory(directory: Directory) -> Changes:
    """Make the database match ``directory`` in one transaction; see ``PeopleDirectory.apply_file``.
    Raises DirectoryError, having written nothing."""
    changes = Changes()
    try:
        with write_transaction():
            _check_references(directory)
            _check_schedule_references(directory)
            _check_emails(directory)
            _upsert_teams(directory.teams, changes)
            _upsert_users(directory.users, changes)
            team_ids, user_ids = _ids(directory)
            _sync_memberships(directory.users, team_ids, user_ids, changes)
            _sync_tiers(directory.users, user_ids, changes)
            _sync_levels(directory.teams, team_ids, user_ids, changes)
            _sync_schedules(directory, changes)
            if directory.routing is not None:
                changes.routing_changed = int(sync_routing(directory.routing, team_ids))
    except IntegrityError as error:
        # Every conflict the file itself could cause is checked first: this is a concurrent writer.
        raise DirectoryError(
            f"{directory.source}: the database changed while applying this file, so nothing was written;"
            f" apply it again ({error})"
        ) from None
    return changes


def _check_references(directory: Directory) -> None:
    _check_known(
        directory, Team.name, "team", {team.name for team in directory.teams},
        [(user.label, "teams", user.teams) for user in directory.users] + routing_references(directory.routing),
    )
    _check_known(
        directory, User.handle, "user", {user.handle for user in directory.users},
        [
            (team.level_label(level), "users", level.users)
            for team in directory.teams
            for level in team.escalation_levels
        ],
    )


def _check_known(directory: Directory, column, what: str, defined: set[str], references) -> None:
    """Raise on the first (entry, field, names) naming a ``what`` neither in the file nor stored."""
    wanted = {name for _, _, names in references for name in names} - defined
    query = column.model.select(column).where(column.in_(sorted(wanted)))
    stored = {name for (name,) in query.tuples()}
    for entry, field, names in references:
        for name in names:
            if name not in defined and name not in stored:
                raise directory.error(
                    entry, field, f'unknown {what} "{name}": not in this file or the database'
                )


def _check_emails(directory: Directory) -> None:
    """An email the file gives a user may not belong to a stored user the file does not list."""
    emails = [user.email.lower() for user in directory.users if user.email]
    query = User.select(fn.LOWER(User.email), User.handle).where(
        fn.LOWER(User.email).in_(emails), User.handle.not_in([user.handle for user in directory.users])
    )
    taken = dict(query.tuples())
    for user in directory.users:
        if user.email and user.email.lower() in taken:
            raise directory.error(
                user.label, "email",
                f'"{user.email}" belongs to user "{taken[user.email.lower()]}", who is not in this file',
            )


def _differs(row, wanted: dict) -> bool:
    return any(getattr(row, name) != value for name, value in wanted.items())


def _upsert_teams(entries: tuple[TeamEntry, ...], changes: Changes) -> None:
    query = Team.select().where(Team.name.in_([entry.name for entry in entries]))
    stored = {team.name: team for team in query}
    for entry in entries:
        wanted = {
            "display_name": entry.display_name, "slack_channel": entry.slack_channel,
            "slack_workspace": entry.slack_workspace, "teams_channel": entry.teams_channel,
        }
        team = stored.get(entry.name)
        if team is None:
            Team.create(name=entry.name, **wanted)
            changes.teams_created += 1
        elif _differs(team, wanted):
            Team.update(**wanted).where(Team.id == team.id).execute()
            changes.teams_updated += 1


def _upsert_users(entries: tuple[UserEntry, ...], changes: Changes) -> None:
    query = User.select().where(User.handle.in_([entry.handle for entry in entries]))
    stored = {user.handle: user for user in query}
    _release_changing_emails(entries, stored)
    now = utcnow()
    for entry in entries:
        wanted = {
            "name": entry.name, "email": entry.email, "phone": entry.phone,
            "time_zone": entry.time_zone, "is_active": True, "is_admin": entry.admin,
        }
        user = stored.get(entry.handle)
        if user is None:
            User.create(handle=entry.handle, created_at=now, updated_at=now, **wanted)
            changes.users_created += 1
        elif _differs(user, wanted):
            User.update(updated_at=now, **wanted).where(User.id == user.id).execute()
            changes.users_updated += 1


def _release_changing_emails(entries: tuple[UserEntry, ...], stored: dict[str, User]) -> None:
    """Clear every email about to change first: emails swapped between listed users would
    otherwise collide on the unique index half-way through."""
    changing = [
        stored[entry.handle].id
        for entry in entries
        if entry.handle in stored and stored[entry.handle].email not in (None, entry.email)
    ]
    if changing:
        User.update(email=None).where(User.id.in_(changing)).execute()


def _ids(directory: Directory) -> tuple[dict[str, int], dict[str, int]]:
    """{team name: id} and {handle: id} for every team and user the file defines or names."""
    names = {team.name for team in directory.teams}
    names |= {name for user in directory.users for name in user.teams}
    names |= {name for _, _, named in routing_references(directory.routing) for name in named}
    handles = {user.handle for user in directory.users} | {
        handle for team in directory.teams for level in team.escalation_levels for handle in level.users
    }
    team_ids = dict(Team.select(Team.name, Team.id).where(Team.name.in_(sorted(names))).tuples())
    user_ids = dict(User.select(User.handle, User.id).where(User.handle.in_(sorted(handles))).tuples())
    return team_ids, user_ids


def _sync_memberships(
    entries: tuple[UserEntry, ...], team_ids: dict[str, int], user_ids: dict[str, int], changes: Changes
) -> None:
    listed = [user_ids[entry.handle] for entry in entries]
    stored: dict[int, set[int]] = defaultdict(set)
    rows = TeamMember.select(TeamMember.user, TeamMember.team).where(TeamMember.user.in_(listed))
    for user_id, team_id in rows.tuples():
        stored[user_id].add(team_id)
    for entry in entries:
        user_id = user_ids[entry.handle]
        wanted = {team_ids[name] for name in entry.teams}
        removed, added = stored[user_id] - wanted, wanted - stored[user_id]
        if removed:
            TeamMember.delete().where(
                TeamMember.user == user_id, TeamMember.team.in_(sorted(removed))
            ).execute()
        if added:
            rows = [{"user": user_id, "team": team_id} for team_id in sorted(added)]
            TeamMember.insert_many(rows).execute()
        changes.memberships_removed += len(removed)
        changes.memberships_added += len(added)


def _sync_tiers(entries: tuple[UserEntry, ...], user_ids: dict[str, int], changes: Changes) -> None:
    listed = [user_ids[entry.handle] for entry in entries]
    stored: dict[int, dict[str, str]] = defaultdict(dict)
    rows = ChannelPreference.select(ChannelPreference.user, ChannelPreference.channel, ChannelPreference.tier)
    for user_id, channel, tier in rows.where(ChannelPreference.user.in_(listed)).tuples():
        stored[user_id][channel] = tier
    for entry in entries:
        user_id = user_ids[entry.handle]
        wanted = {
            channel.value: tier.value for tier, channels in (entry.channels.tiers() if entry.channels else ())
            for channel in channels
        }
        if wanted != stored[user_id]:
            _write_tiers(user_id, stored[user_id], wanted)
            changes.users_with_new_tiers += 1


def _write_tiers(user_id: int, stored: dict[str, str], wanted: dict[str, str]) -> None:
    """Write only the differing rows: {channel: tier} ``stored`` becomes ``wanted``."""
    gone = sorted(set(stored) - set(wanted))
    if gone:
        ChannelPreference.delete().where(
            ChannelPreference.user == user_id, ChannelPreference.channel.in_(gone)
        ).execute()
    for channel, tier in wanted.items():
        if channel not in stored:
            ChannelPreference.create(user=user_id, channel=channel, tier=tier)
        elif stored[channel] != tier:
            ChannelPreference.update(tier=tier).where(
                ChannelPreference.user == user_id, ChannelPreference.channel == channel
            ).execute()


@dataclass
class StoredLevel:
    id: int
    level: int
    delay_minutes: int
    user_ids: set[int]


def stored_levels(team_id: int) -> dict[int, StoredLevel]:
    """{level number: level} for the team."""
    rows = EscalationLevel.select().where(EscalationLevel.team == team_id)
    levels = {row.id: StoredLevel(row.id, row.level, row.delay_minutes, set()) for row in rows}
    targets = EscalationTarget.select(EscalationTarget.escalation_level, EscalationTarget.user)
    for level_id, user_id in targets.where(EscalationTarget.escalation_level.in_(list(levels))).tuples():
        levels[level_id].user_ids.add(user_id)
    return {level.level: level for level in levels.values()}


def _sync_levels(
    entries: tuple[TeamEntry, ...], team_ids: dict[str, int], user_ids: dict[str, int], changes: Changes
) -> None:
    for entry in entries:
        team_id = team_ids[entry.name]
        stored = stored_levels(team_id)
        wanted = {
            level.level: (level.delay_minutes, {user_ids[handle] for handle in level.users})
            for level in entry.escalation_levels
        }
        if wanted != {number: (level.delay_minutes, level.user_ids) for number, level in stored.items()}:
            _write_levels(team_id, stored, wanted)
            changes.teams_with_new_levels += 1


def _write_levels(
    team_id: int, stored: dict[int, StoredLevel], wanted: dict[int, tuple[int, set[int]]]
) -> None:
    """Write only the differing rows: the team's ``stored`` levels become ``wanted``."""
    gone = [level.id for number, level in stored.items() if number not in wanted]
    if gone:
        EscalationTarget.delete().where(EscalationTarget.escalation_level.in_(gone)).execute()
        EscalationLevel.delete().where(EscalationLevel.id.in_(gone)).execute()
    for number, (delay_minutes, users) in wanted.items():
        level = stored.get(number)
        if level is None:
            row = EscalationLevel.create(team=team_id, level=number, delay_minutes=delay_minutes)
            level = StoredLevel(row.id, number, delay_minutes, set())
        elif level.delay_minutes != delay_minutes:
            query = EscalationLevel.update(delay_minutes=delay_minutes)
            query.where(EscalationLevel.id == level.id).execute()
        _write_targets(level, users)


def _write_targets(level: StoredLevel, wanted: set[int]) -> None:
    removed, added = level.user_ids - wanted, wanted - level.user_ids
    if removed:
        EscalationTarget.delete().where(
            EscalationTarget.escalation_level == level.id, EscalationTarget.user.in_(sorted(removed))
        ).execute()
    if added:
        rows = [{"escalation_level": level.id, "user": user_id} for user_id in sorted(added)]
        EscalationTarget.insert_many(rows).execute()


# --- schedules -------------------------------------------------------------------------------


def _check_schedule_references(directory: Directory) -> None:
    """Every person, team and schedule a schedule or level names is in the file or stored."""
    _check_known(
        directory, User.handle, "user", {user.handle for user in directory.users},
        [
            (f"{schedule.label}: rotations[{rotation.position}]", "users", rotation.users)
            for schedule in directory.schedules for rotation in schedule.rotations
        ] + [
            (f"{schedule.label}: overrides[{override.position}]", "user", (override.user,))
            for schedule in directory.schedules for override in schedule.overrides
        ],
    )
    _check_known(
        directory, Team.name, "team", {team.name for team in directory.teams},
        [(schedule.label, "team", (schedule.team,)) for schedule in directory.schedules if schedule.team],
    )
    _check_known(
        directory, OnCallSchedule.name, "schedule", {schedule.name for schedule in directory.schedules},
        [
            (team.level_label(level), "schedules", level.schedules)
            for team in directory.teams
            for level in team.escalation_levels
        ],
    )


def _schedule_definition(entry: ScheduleEntry) -> dict:
    feed = {"ical_url": entry.ical_url} if entry.ical_url else {}
    return feed | {
        "rotations": [
            rotation_json(rotation.users, rotation.start, rotation.shift, rotation.days, rotation.hours)
            for rotation in entry.rotations
        ],
        "overrides": [override_json(override.user, override.start, override.end) for override in entry.overrides],
    }


def _sync_schedules(directory: Directory, changes: Changes) -> None:
    """Upsert the file's schedules (by name), then make its teams' levels page exactly the
    schedules the file names. Schedules not in the file, and overrides made from chat or the
    CLI, are left alone."""
    team_names = sorted({entry.team for entry in directory.schedules if entry.team} | {team.name for team in directory.teams})
    team_ids = dict(Team.select(Team.name, Team.id).where(Team.name.in_(team_names)).tuples())
    names = [entry.name for entry in directory.schedules]
    stored = {row.name: row for row in OnCallSchedule.select().where(OnCallSchedule.name.in_(names))}
    now = utcnow()
    for entry in directory.schedules:
        wanted = {
            "team": team_ids.get(entry.team) if entry.team else None, "time_zone": entry.time_zone,
            "definition": _schedule_definition(entry),
        }
        row = stored.get(entry.name)
        if row is None:
            OnCallSchedule.create(name=entry.name, created_at=now, updated_at=now, **wanted)
            changes.schedules_created += 1
        elif {"team": row.team_id, "time_zone": row.time_zone, "definition": row.definition} != wanted:
            if row.definition.get("ical_url") != entry.ical_url:  # another feed: its copy starts afresh
                wanted.update(feed_shifts=None, feed_loaded_at=None, feed_checked_at=None, feed_error=None)
            OnCallSchedule.update(updated_at=now, **wanted).where(OnCallSchedule.id == row.id).execute()
            changes.schedules_updated += 1
    _sync_level_schedules(directory.teams, team_ids, changes)


def _sync_level_schedules(entries: tuple[TeamEntry, ...], team_ids: dict[str, int], changes: Changes) -> None:
    named = sorted({name for entry in entries for level in entry.escalation_levels for name in level.schedules})
    schedule_ids = dict(OnCallSchedule.select(OnCallSchedule.name, OnCallSchedule.id).where(OnCallSchedule.name.in_(named)).tuples())
    for entry in entries:
        levels = dict(
            EscalationLevel.select(EscalationLevel.level, EscalationLevel.id)
            .where(EscalationLevel.team == team_ids[entry.name]).tuples()
        )
        stored = set(
            LevelSchedule.select(LevelSchedule.escalation_level, LevelSchedule.schedule)
            .where(LevelSchedule.escalation_level.in_(list(levels.values()))).tuples()
        )
        wanted = {(levels[level.level], schedule_ids[name]) for level in entry.escalation_levels for name in level.schedules}
        if stored == wanted:
            continue
        for level_id, schedule_id in stored - wanted:
            LevelSchedule.delete().where(
                (LevelSchedule.escalation_level == level_id) & (LevelSchedule.schedule == schedule_id)
            ).execute()
        added = [{"escalation_level": level_id, "schedule": schedule_id} for level_id, schedule_id in sorted(wanted - stored)]
        if added:
            LevelSchedule.insert_many(added).execute()
        changes.teams_with_new_level_schedules += 1
