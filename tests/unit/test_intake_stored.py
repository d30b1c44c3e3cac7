"""The intake inbox keeps a ``TriggerRequest`` as JSON and gets the same request back."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from incidents.intake import stored
from incidents.intake.fields import AlertGroup, GroupAlert, TriggerRequest
from storage.enums import Priority

_text = st.text(max_size=40)
_alerts = st.builds(GroupAlert, fingerprint=_text, firing=st.booleans(), line=_text, priority=st.sampled_from(Priority))
_requests = st.builds(
    TriggerRequest,
    title=st.text(min_size=1, max_size=80),
    body=_text,
    priority=st.sampled_from(Priority),
    service=_text,
    team=st.none() | _text,
    dedup_key=st.none() | _text,
    dashboard_url=st.none() | _text,
    labels=st.dictionaries(_text, _text, max_size=5),
    group=st.none() | st.builds(AlertGroup, alerts=st.tuples(_alerts) | st.tuples(_alerts, _alerts), left_out=st.integers(0, 9)),
)


@given(_requests)
def test_a_kept_request_comes_back_the_same(request):
    text = stored.to_json(request)
    again = stored.from_json(text)
    assert again == request
    assert isinstance(again.priority, Priority)
    assert again.group is None or all(isinstance(alert.priority, Priority) for alert in again.group.alerts)
