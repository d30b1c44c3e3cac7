"""Who is on the phone: the person an SMS comes from, and what a call Ackbot placed is about.
Read-only look-ups for the Twilio webhooks, through ``PhoneLookup``."""
from __future__ import annotations

from dataclasses import dataclass

from incidents.directory_file import E164
from storage.database import database
from storage.enums import Channel
from storage.models import Incident, NotificationLog, User


@dataclass(frozen=True)
class Person:
    user_id: int
    name: str


@dataclass(frozen=True)
class Call:
    """A voice notification: the incident it is about and the person it rings."""

    notification_id: int
    kind: str
    incident: Incident
    person: Person


class PhoneLookup:
    """Who and what an inbound SMS or call is about."""

    async def person_with_number(self, number: str) -> Person | None:
        """The one active person whose phone is ``number`` (E.164). None when nobody has it, and
        when several people share it: a reply from a shared phone cannot say who acted."""
        if not E164.fullmatch(number):
            return None
        return await database.run(_person_with_number, number)

    async def call(self, notification_id: int, channel: Channel) -> Call | None:
        """The notification ``notification_id`` sent on ``channel`` (the voice webhooks' own), or
        None when there is no such call."""
        return await database.run(_call, notification_id, channel)


def _person_with_number(number: str) -> Person | None:
    people = list(User.select(User.id, User.name).where((User.phone == number) & User.is_active).limit(2))
    return Person(people[0].id, people[0].name) if len(people) == 1 else None


def _call(notification_id: int, channel: Channel) -> Call | None:
    row = (
        NotificationLog.select(NotificationLog, Incident, User)
        .join(Incident)
        .switch(NotificationLog)
        .join(User)
        .where((NotificationLog.id == notification_id) & (NotificationLog.channel == channel))
        .first()
    )
    if row is None:
        return None
    return Call(row.id, row.kind, row.incident, Person(row.user.id, row.user.name))
