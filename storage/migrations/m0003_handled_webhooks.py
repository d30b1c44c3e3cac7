"""Handled webhooks: what Twilio's replayed webhooks are recognised by."""
from storage.models import HandledWebhook


def apply(database):
    database.create_tables([HandledWebhook], safe=True)
