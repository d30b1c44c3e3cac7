"""The alerts of a group an incident was opened for (Alertmanager, Grafana): remembered by
fingerprint, so ``alert_count`` is how many distinct alerts the incident has seen (not how many
times the sender re-sent the group) and the body lists the ones still firing.

``record_alerts`` and ``record_first_alerts`` are synchronous code run inside the trigger's
transaction; ``first_state``, ``render_body`` and ``describe_change`` are pure.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incidents.intake.fields import BODY_MAX, AlertGroup, GroupAlert, clip
from storage.bulk import insert_rows, one_of, update_row
from storage.database import database
from storage.models import IncidentAlert

# The body lists at most this many firing alerts, then says how many more there are.
LISTED_ALERTS_MAX = 25


@dataclass(frozen=True)
class GroupState:
    """The incident's alerts after a notification: how many joined or resolved with it, how many
    distinct alerts it has seen and how many fire, and the lines of the oldest firing ones (at
    most LISTED_ALERTS_MAX). ``changed`` is False when the notification changed no alert (a
    re-send): then the counts and lines are not read and stay empty."""

    joined: int
    resolved: int
    seen: int = 0
    firing: int = 0
    listed: tuple[str, ...] = ()
    changed: bool = True


def record_alerts(incident_id: int, group: AlertGroup, now: datetime) -> GroupState:
    """Insert the group's new fingerprints and update the known ones; returns the new state.
    Reads only the rows of the alerts in ``group`` and aggregates, so a group of thousands of
    alerts costs the same per notification as a small one. Hand-written statements: in an alert
    storm this runs for every notification, and building them with peewee cost most of it."""
    latest = {alert.fingerprint: alert for alert in group.alerts}
    stored = _stored_facts(incident_id, list(latest)) if latest else {}
    joined = [alert for fingerprint, alert in latest.items() if fingerprint not in stored]
    resolved = sum(1 for fingerprint, alert in latest.items()
                   if fingerprint in stored and stored[fingerprint][1] and not alert.firing)
    insert_rows(IncidentAlert, [_row(incident_id, alert, now) for alert in joined])
    updated = [(row_id, latest[fingerprint]) for fingerprint, (row_id, *facts) in stored.items()
               if tuple(facts) != _facts(latest[fingerprint])]
    for row_id, alert in updated:
        update_row(IncidentAlert, row_id, {
            IncidentAlert.firing: alert.firing, IncidentAlert.line: alert.line, IncidentAlert.priority: alert.priority,
            IncidentAlert.updated_at: now,
        })
    if not joined and not updated:
        return GroupState(joined=0, resolved=0, changed=False)
    param = database.param
    seen, firing = database.execute_sql(
        f'SELECT COUNT("id"), COALESCE(SUM(CAST("firing" AS integer)), 0) FROM "incident_alert" WHERE "incident_id" = {param}',
        [incident_id],
    ).fetchone()
    listed = database.execute_sql(
        f'SELECT "line" FROM "incident_alert" WHERE "incident_id" = {param} AND "firing"'
        f' ORDER BY "first_seen_at", "id" LIMIT {LISTED_ALERTS_MAX}',
        [incident_id],
    ).fetchall()
    return GroupState(
        joined=sum(alert.firing for alert in joined), resolved=resolved, seen=seen, firing=firing,
        listed=tuple(line for (line,) in listed),
    )


def _stored_facts(incident_id: int, fingerprints: list[str]) -> dict[str, tuple[int, bool, str, str]]:
    """{fingerprint: (row id, firing, line, priority)} of the incident's alerts among ``fingerprints``."""
    condition, params = one_of('"fingerprint"', fingerprints, "varchar")
    rows = database.execute_sql(
        f'SELECT "id", "fingerprint", "firing", "line", "priority" FROM "incident_alert"'
        f' WHERE "incident_id" = {database.param} AND {condition}',
        [incident_id, *params],
    ).fetchall()
    return {fingerprint: (row_id, bool(firing), line, priority) for row_id, fingerprint, firing, line, priority in rows}


def first_state(group: AlertGroup) -> GroupState:
    """What ``record_alerts`` would answer for an incident opened for ``group`` (none of its
    alerts stored yet), computed without the database: the trigger knows it before it writes."""
    latest = {alert.fingerprint: alert for alert in group.alerts}
    firing = [alert for alert in latest.values() if alert.firing]
    return GroupState(
        joined=len(firing), resolved=0, seen=len(latest), firing=len(firing),
        listed=tuple(alert.line for alert in firing[:LISTED_ALERTS_MAX]),
    )


def record_first_alerts(incident_id: int, group: AlertGroup, now: datetime) -> None:
    """Store the alerts of the group a new incident was opened for (see ``first_state``)."""
    latest = {alert.fingerprint: alert for alert in group.alerts}
    insert_rows(IncidentAlert, [_row(incident_id, alert, now) for alert in latest.values()])


def _facts(alert: GroupAlert) -> tuple[bool, str, str]:
    return alert.firing, alert.line, alert.priority


def _row(incident_id: int, alert: GroupAlert, now: datetime) -> dict:
    return {
        "incident": incident_id, "fingerprint": alert.fingerprint, "firing": alert.firing, "line": alert.line,
        "priority": alert.priority, "first_seen_at": now, "updated_at": now,
    }


def render_body(preface: str, state: GroupState, left_out: int) -> str:
    """The incident body: ``preface``, then the firing alerts (at most LISTED_ALERTS_MAX lines)."""
    lines = [preface] if preface else []
    lines.append(f"Firing: {state.firing} of {state.seen} alert(s) seen")
    lines += [f"- {line}" for line in state.listed]
    if state.firing > len(state.listed):
        lines.append(f"- … and {state.firing - len(state.listed)} more firing")
    if left_out:
        lines.append(f"- … and {left_out} more the sender left out of its last notification")
    return clip("\n".join(lines), BODY_MAX)


def describe_change(state: GroupState) -> str:
    """The timeline's sentence for a repeated notification about the group."""
    if not state.changed or not (state.joined or state.resolved):
        return "Alert group sent again, no alert joined or resolved: nobody paged again"
    return (
        f"Alert group changed: {state.joined} joined, {state.resolved} resolved;"
        f" {state.firing} firing of {state.seen} seen; nobody paged again"
    )
