"""Hypothesis fuzzing of PagerDuty events and Opsgenie requests: every body is either parsed into
something the engine can store or refused with an IntakeError (400/422) naming what is wrong;
nothing else is ever raised."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from incidents.intake import IntakeError
from incidents.intake.fields import BODY_MAX, DEDUP_KEY_MAX, TITLE_MAX
from incidents.intake.opsgenie import parse_create, parse_description, parse_message, parse_note, parse_reference
from incidents.intake.pagerduty import parse_event

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
pagerduty_events = st.fixed_dictionaries({}, optional={
    "routing_key": json_values | st.just("0123456789abcdef0123456789abcdef"),
    "event_action": json_values | st.sampled_from(["trigger", "acknowledge", "resolve", "Trigger"]),
    "dedup_key": json_values | st.text(max_size=400),
    "payload": json_values | st.fixed_dictionaries({}, optional={
        name: json_values for name in ("summary", "source", "severity", "component", "group", "class", "custom_details")
    }),
    "links": json_values, "images": json_values, "client_url": json_values,
})
opsgenie_creates = st.fixed_dictionaries({}, optional={
    name: json_values for name in ("message", "alias", "description", "priority", "responders", "tags", "details",
                                   "entity", "source", "note", "user")
})


def _check_trigger(trigger) -> None:
    assert trigger.title.strip() and len(trigger.title) <= TITLE_MAX and len(trigger.body) <= BODY_MAX
    assert trigger.dedup_key is None or len(trigger.dedup_key) <= DEDUP_KEY_MAX


@given(pagerduty_events | json_values, json_values)
def test_pagerduty_events_parse_or_are_refused_with_400(data, header):
    try:
        event = parse_event(data, header if isinstance(header, str) else None, lambda: "k" * 32)
    except IntakeError as error:
        assert error.status == 400 and error.message
    else:
        assert event.routing_key and len(event.incident_key) <= DEDUP_KEY_MAX
        if event.trigger is not None:
            _check_trigger(event.trigger)


@given(opsgenie_creates | json_values)
def test_opsgenie_creates_parse_or_are_refused(data):
    try:
        alert = parse_create(data)
    except IntakeError as error:
        assert error.status in (400, 422) and error.message
    else:
        _check_trigger(alert.trigger)


@given(json_values, st.text(max_size=600), st.none() | st.text(max_size=10))
def test_opsgenie_actions_parse_or_are_refused(data, identifier, identifier_type):
    for parse in (parse_note, parse_message, parse_description):
        try:
            parse(data)
        except IntakeError as error:
            assert error.status in (400, 422)
    try:
        reference = parse_reference(identifier, identifier_type)
    except IntakeError as error:
        assert error.field in ("identifierType", "identifier")
    else:
        assert reference.dedup_key is None or len(reference.dedup_key) <= DEDUP_KEY_MAX
