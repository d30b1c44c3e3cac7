"""Block Kit for `/incident status 42` and `/incident list`. Pure: a view model in, (fallback
text, blocks) out.

Slack's limits hold whatever the incident: at most 50 blocks, 3,000 characters a section, 150
a header, 10 context elements. Past ``DETAIL_LIMIT`` people the answer is summarised (counts
per status, people with failures first) and says where the full grid is.
"""
from __future__ import annotations

from bot.status_layout import (
    DETAIL_LIMIT,
    FAILED_DETAIL_LIMIT,
    NEXT_MARK,
    NOTE_MARK,
    alert_count,
    counts_text,
    full_grid_hint,
    mark,
)
from channels.base import truncate
from channels.payloads import actions_for
from channels.slack_blocks import PRIORITY_MARK, action_button, escape
from incidents.status_view import ListView, PersonStatus, PostStatus, StatusView, channel_label
from storage.enums import Channel

MAX_BLOCKS = 50
HEADER_LIMIT = 150
TEXT_LIMIT = 3000
LIST_LIMIT = 20  # two blocks an incident, with room for the header and the footer


def _section(mrkdwn: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(mrkdwn, TEXT_LIMIT)}}


def _context(*mrkdwn: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, TEXT_LIMIT)} for text in mrkdwn]}


def _header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(text, HEADER_LIMIT)}}


def _buttons(number: int, status: str) -> list[dict]:
    actions = actions_for(status, {}, "")
    if not actions:
        return []
    return [{"type": "actions", "block_id": f"incident-{number}", "elements": [action_button(action, number) for action in actions]}]


def status_message(view: StatusView) -> tuple[str, list[dict]]:
    """The status answer: header, state, a section per person (or a summary), team channel
    posts, notes, buttons while they can be used."""
    facts = " · ".join(escape(part) for part in (view.team or "no team", view.service, alert_count(view.alert_count)) if part)
    blocks = [
        _header(f"{PRIORITY_MARK.get(view.priority, '')} #{view.number} {view.priority}: {view.title}".strip()),
        _section(f"*{view.status.title()}* · {facts} · level {view.level}\n" + "\n".join(escape(line) for line in view.state)),
    ]
    blocks += _people_blocks(view)
    if view.posts:
        lines = [f"{mark(post.status)} {_destination(post)}: {escape(post.words)}" for post in view.posts]
        blocks.append(_section("*Team channel*\n" + "\n".join(lines)))
    notes = [f"{NOTE_MARK} {escape(note)}" for note in view.notes]
    if view.next_level:
        notes.append(f"{NEXT_MARK} {escape(view.next_level)}")
    if notes:
        blocks.append(_section("\n".join(notes)))
    blocks += _buttons(view.number, view.status)
    blocks.append(_context(f"Times in {escape(view.zone)}.", escape(full_grid_hint(view.number))))
    return f"#{view.number} {view.priority} · {view.title} [{view.status}]", blocks


def _destination(post: PostStatus) -> str:
    """A Slack channel as a link Slack draws with its name; another chat's channel by its id."""
    if post.channel == Channel.SLACK:
        return f"<#{escape(post.destination)}>"
    return f"{channel_label(post.channel)} {escape(post.destination)}"


def _people_blocks(view: StatusView) -> list[dict]:
    if len(view.people) <= DETAIL_LIMIT:
        return [_section(_person_text(person)) for person in view.people]
    by_concern = view.people_by_concern()
    failed = [person for person in by_concern if person.failed]
    shown = failed[:FAILED_DETAIL_LIMIT]
    blocks = [_section(f"*{len(view.people)} people paged:* {counts_text(view.counts)}")]
    blocks += [_section(_person_text(person)) for person in shown]
    rest = [person.name for person in by_concern[len(shown):]]
    if rest:
        more_failed = len(failed) - len(shown)
        label = f"{len(rest)} more, {more_failed} of them with a failed page" if more_failed else f"{len(rest)} more, nothing failed"
        blocks.append(_section(f"*{label}:* " + escape(", ".join(rest))))
    return blocks


def _person_text(person: PersonStatus) -> str:
    level = f" · level {person.level}" if person.level is not None else ""
    lines = [f"*{escape(person.name)}*{level}"]
    lines += [f"{mark(state.status)} {channel_label(state.channel)}: {escape(state.words)}" for state in person.channels]
    if person.upcoming:
        lines.append(f"{NEXT_MARK} {escape(person.upcoming)}")
    return "\n".join(lines)


def list_message(view: ListView) -> tuple[str, list[dict]]:
    """A compact block per open incident — priority, title, team, status, age, who acknowledged — with its buttons."""
    if not view.incidents:
        return "No open incidents.", [_section("No open incidents.")]
    blocks = [_header(f"Open incidents ({len(view.incidents)}{'+' if view.truncated else ''})")]
    for incident in view.incidents[:LIST_LIMIT]:
        mark_ = PRIORITY_MARK.get(incident.priority, "")
        details = [incident.team or "no team", incident.status.title(), f"{incident.age} ago"]
        if incident.acknowledged:
            details.append(incident.acknowledged)
        blocks.append(_section(f"{mark_} *#{incident.number} {incident.priority}* · {escape(incident.title)}\n"
                               + escape(" · ".join(details))))
        blocks += _buttons(incident.number, incident.status)
    footer = [f"Times in {escape(view.zone)}."]
    if view.truncated or len(view.incidents) > LIST_LIMIT:
        footer.append("More are open: ackbot list on the command line.")
    blocks.append(_context(*footer))
    text = "\n".join(f"#{incident.number} {incident.priority} · {incident.title} [{incident.status}]" for incident in view.incidents)
    return truncate(text, TEXT_LIMIT), blocks
