"""Heartbeats: senders that must ping within a timeout, or an incident opens."""
from storage.models import Heartbeat


def apply(database):
    database.create_tables([Heartbeat], safe=True)
