"""Alertmanager webhook bodies as a real Alertmanager sends them."""

# Exactly what Debian's Alertmanager 0.25.0 posted (captured from the binary the CI runs) for a
# group of two alerts of different severities, both firing.
ALERTMANAGER_0_25 = {
    "receiver": "ackbot",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "PostgresDown",
                "instance": "db-1:9187",
                "job": "postgres-exporter",
                "severity": "warning",
                "team": "payments"
            },
            "annotations": {
                "description": "PostgresDown on db-1:9187",
                "runbook_url": "https://runbooks.example.org/postgres-down",
                "summary": "PostgresDown is firing"
            },
            "startsAt": "2026-12-01T23:16:30.699532Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=PostgresDown",
            "fingerprint": "92e53858f5120b18"
        },
        {
            "status": "firing",
            "labels": {
                "alertname": "PostgresDown",
                "instance": "db-2:9187",
                "job": "postgres-exporter",
                "severity": "critical",
                "team": "payments"
            },
            "annotations": {
                "description": "PostgresDown on db-2:9187",
                "summary": "PostgresDown is firing"
            },
            "startsAt": "2026-12-01T23:16:30.699565Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=PostgresDown",
            "fingerprint": "202c1e1885f47d4c"
        }
    ],
    "groupLabels": {
        "alertname": "PostgresDown"
    },
    "commonLabels": {
        "alertname": "PostgresDown",
        "job": "postgres-exporter",
        "team": "payments"
    },
    "commonAnnotations": {
        "summary": "PostgresDown is firing"
    },
    "externalURL": "http://vm:51065",
    "version": "4",
    "groupKey": "{}/{alertname=~\".+\"}:{alertname=\"PostgresDown\"}",
    "truncatedAlerts": 0
}
