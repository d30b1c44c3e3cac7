"""Adaptive Cards (1.5) for Teams `status 42` and `list`. Pure: a view model in, card JSON out.

The same content as the Slack answer: a FactSet per person (a fact per channel: "✅ Slack" —
"delivered 14:02"). A card stays under ``SIZE_BUDGET`` bytes of JSON (Teams refuses messages
over about 28 KB): past ``DETAIL_LIMIT`` people it is summarised, and fewer people with
failures are detailed until it fits; the card always says how many are left out and where
the full grid is.
"""
from __future__ import annotations

import json

from bot.status_layout import (
    DETAIL_LIMIT,
    FAILED_DETAIL_LIMIT,
    NEXT_MARK,
    NOTE_MARK,
    counts_text,
    full_grid_hint,
    mark,
)
from channels.base import truncate
from channels.payloads import actions_for
from channels.teams_cards import PRIORITY_COLOURS, TITLE_LIMIT, adaptive_card, execute_action, text_block
from incidents.status_view import ListView, PersonStatus, StatusView, channel_label

SIZE_BUDGET = 24_000  # bytes of card JSON, leaving room for the activity around it
TEXT_LIMIT = 2000
LIST_LIMIT = 20


def status_card(view: StatusView) -> dict:
    """The status card, as detailed as ``SIZE_BUDGET`` allows."""
    detail = FAILED_DETAIL_LIMIT
    while True:
        card = _status_card(view, detail)
        if detail == 0 or len(json.dumps(card).encode()) <= SIZE_BUDGET:
            return card
        detail //= 2


def _status_card(view: StatusView, failed_detail: int) -> dict:
    body = [
        text_block(truncate(f"#{view.number} {view.priority} · {view.title}", TITLE_LIMIT), weight="Bolder", size="Medium",
              color=PRIORITY_COLOURS.get(view.priority, "Default")),
        text_block(truncate("\n\n".join(view.state), TEXT_LIMIT), weight="Bolder"),
        _facts([
            ("Status", view.status.title()), ("Team", view.team or "-"), ("Service", view.service or "-"),
            ("Alerts", str(view.alert_count)), ("Escalation level", str(view.level)), ("Times in", view.zone),
        ]),
    ]
    body += _people(view, failed_detail)
    if view.posts:
        body.append(text_block("Team channel", weight="Bolder", separator=True))
        body.append(_facts([(f"{mark(post.status)} {channel_label(post.channel)} {post.destination}", post.words) for post in view.posts]))
    body += [text_block(truncate(f"{NOTE_MARK} {note}", TEXT_LIMIT)) for note in view.notes]
    if view.next_level:
        body.append(text_block(f"{NEXT_MARK} {view.next_level}"))
    body.append(text_block(full_grid_hint(view.number), isSubtle=True, size="Small", separator=True))
    return adaptive_card(body, [execute_action(action, view.number) for action in actions_for(view.status, {}, "")])


def _people(view: StatusView, failed_detail: int) -> list[dict]:
    if len(view.people) <= DETAIL_LIMIT:
        return [element for person in view.people for element in _person(person)]
    by_concern = view.people_by_concern()
    failed = [person for person in by_concern if person.failed]
    shown = failed[:failed_detail]
    elements = [text_block(f"{len(view.people)} people paged: {counts_text(view.counts)}", weight="Bolder", separator=True)]
    elements += [element for person in shown for element in _person(person)]
    rest = [person.name for person in by_concern[len(shown):]]
    if rest:
        more_failed = len(failed) - len(shown)
        label = f"{len(rest)} more, {more_failed} of them with a failed page" if more_failed else f"{len(rest)} more, nothing failed"
        elements.append(text_block(truncate(f"{label}: {', '.join(rest)}", TEXT_LIMIT), separator=True))
    return elements


def _person(person: PersonStatus) -> list[dict]:
    level = f" · level {person.level}" if person.level is not None else ""
    elements = [
        text_block(f"{person.name}{level}", weight="Bolder", separator=True),
        _facts([(f"{mark(state.status)} {channel_label(state.channel)}", state.words) for state in person.channels]),
    ]
    if person.upcoming:
        elements.append(text_block(f"{NEXT_MARK} {person.upcoming}", isSubtle=True, spacing="Small"))
    return elements


def _facts(pairs: list[tuple[str, str]]) -> dict:
    return {"type": "FactSet", "facts": [{"title": title, "value": truncate(value, TEXT_LIMIT)} for title, value in pairs]}


def list_card(view: ListView) -> dict:
    """A compact container per open incident — priority, title, team, status, age, who acknowledged — with its buttons."""
    if not view.incidents:
        return adaptive_card([text_block("No open incidents.")], [])
    body = [text_block(f"Open incidents ({len(view.incidents)}{'+' if view.truncated else ''})", weight="Bolder", size="Medium")]
    for incident in view.incidents[:LIST_LIMIT]:
        details = [incident.team or "no team", incident.status.title(), f"{incident.age} ago"]
        if incident.acknowledged:
            details.append(incident.acknowledged)
        items = [
            text_block(truncate(f"#{incident.number} {incident.priority} · {incident.title}", TITLE_LIMIT), weight="Bolder",
                  color=PRIORITY_COLOURS.get(incident.priority, "Default")),
            text_block(" · ".join(details), isSubtle=True, spacing="None"),
        ]
        actions = [execute_action(action, incident.number) for action in actions_for(incident.status, {}, "")]
        if actions:
            items.append({"type": "ActionSet", "actions": actions})
        body.append({"type": "Container", "separator": True, "items": items})
    footer = f"Times in {view.zone}."
    if view.truncated or len(view.incidents) > LIST_LIMIT:
        footer += " More are open: ackbot list on the command line."
    body.append(text_block(footer, isSubtle=True, size="Small"))
    return adaptive_card(body, [])
