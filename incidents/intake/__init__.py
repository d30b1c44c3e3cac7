"""Intake: what monitoring systems send, one module per format, each turning a sender's body
into a ``TriggerRequest``; ``fields`` holds what they share."""
from incidents.intake.alertmanager import AlertmanagerGroup, parse_alertmanager
from incidents.intake.fields import AlertGroup, GroupAlert, IntakeError, TriggerRequest
from incidents.intake.native import parse_incident_request

__all__ = [
    "AlertGroup", "AlertmanagerGroup", "GroupAlert", "IntakeError", "TriggerRequest", "parse_alertmanager", "parse_incident_request",
]
