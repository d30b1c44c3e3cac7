"""Prometheus metrics (``GET /metrics``). The outbox and dispatcher observe deliveries as they
record them; queue depth is measured when scraped; the server times interactive requests."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)

NOTIFICATIONS = Counter(
    "ackbot_notifications", "Notification results recorded, by channel, kind and resulting status",
    ["channel", "kind", "status"],
)
QUEUED_TO_SENT = Histogram(
    "ackbot_notification_queued_to_sent_seconds", "Time from queueing to the provider accepting it",
    ["channel"], buckets=_LATENCY_BUCKETS,
)
QUEUED_TO_DELIVERED = Histogram(
    "ackbot_notification_queued_to_delivered_seconds", "Time from queueing to the provider confirming delivery",
    ["channel"], buckets=_LATENCY_BUCKETS,
)
PROVIDER_ERRORS = Counter(
    "ackbot_provider_errors", "Failed sends by channel and class (temporary: retried; permanent: failed at once)",
    ["channel", "error_class"],
)
QUEUE_DEPTH = Gauge("ackbot_queue_depth", "Notifications due now and not yet claimed")
QUEUE_OLDEST_AGE = Gauge("ackbot_queue_oldest_due_age_seconds", "How long the oldest due notification has waited")
INTAKE_KEPT = Counter("ackbot_intake_kept", "Intake signals kept in the inbox (the process was past its intake budget)")
INTAKE_FAILED = Counter("ackbot_intake_failed", "Kept intake signals that could not be worked (kept, marked failed)")
INTAKE_WAITING = Gauge("ackbot_intake_waiting", "Intake signals kept and not yet worked, every process's")
REQUEST_SECONDS = Histogram(
    "ackbot_request_seconds", "Interactive request latency by surface", ["surface"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def observe_recorded(channel: str, kind: str, status: str, queued_seconds: float, delivered: bool) -> None:
    NOTIFICATIONS.labels(channel, kind, status).inc()
    if status in ("SENT", "DELIVERED"):
        QUEUED_TO_SENT.labels(channel).observe(queued_seconds)
    if delivered:
        QUEUED_TO_DELIVERED.labels(channel).observe(queued_seconds)
