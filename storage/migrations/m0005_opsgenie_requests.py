"""Opsgenie Alert API request outcomes, for ``GET /v2/alerts/requests/{id}``."""
from storage.models import OpsgenieRequest


def apply(database):
    database.create_tables([OpsgenieRequest], safe=True)
