"""``ackbot route`` reads PagerDuty events and Opsgenie creates: told from their shape, parsed as
their routes parse them."""
from __future__ import annotations

import pytest

from incidents.intake import IntakeError
from incidents.intake.samples import detect_format, parse_sample
from tests.unit.test_opsgenie_parsing import GRAFANA_CREATE
from tests.unit.test_pagerduty_parsing import ALERTMANAGER_TRIGGER


def test_pagerduty_and_opsgenie_bodies_are_told_apart():
    assert detect_format(ALERTMANAGER_TRIGGER) == "pagerduty"
    assert detect_format(GRAFANA_CREATE) == "opsgenie"
    assert detect_format({"title": "DB down", "message": "ignored"}) == "native"


def test_samples_parse_as_their_routes_parse_them():
    assert parse_sample({k: v for k, v in ALERTMANAGER_TRIGGER.items() if k != "routing_key"}, "pagerduty").priority == "CRITICAL"
    assert parse_sample(GRAFANA_CREATE, "opsgenie").team == "platform"
    with pytest.raises(IntakeError) as refused:
        parse_sample({"event_action": "resolve", "dedup_key": "x"}, "pagerduty")
    assert refused.value.field == "event_action"
