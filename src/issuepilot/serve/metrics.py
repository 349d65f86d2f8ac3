"""What `GET /metrics` shows, in Prometheus' text format (prometheus-client), on a registry
of the app's own: deliveries by event and outcome, the backlog of each queue, how long a
delivery waited to be handed on, steps handed on and the errors doing so. A worker shows
its step durations on its own port (`issuepilot worker --metrics-port`).
https://prometheus.io/docs/instrumenting/exposition_formats/
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.deliveries = Counter(
            "issuepilot_deliveries",
            "Webhook deliveries by event and outcome (queued, duplicate, ignored, "
            "unauthorized, too_large, malformed, unavailable)",
            ["event", "outcome"],
            registry=registry,
        )
        self.webhook_seconds = Histogram(
            "issuepilot_webhook_seconds",
            "From a webhook request's arrival to its answer",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
            registry=registry,
        )
        self.tasks = Counter(
            "issuepilot_task_requests",
            "POST /tasks requests by outcome (queued, unauthorized, forbidden, invalid)",
            ["outcome"],
            registry=registry,
        )
        self.backlog = Gauge(
            "issuepilot_queue_backlog",
            "Entries waiting in each queue (deliveries: to be handed on; steps: to be run)",
            ["queue"],
            registry=registry,
        )
        self.handed = Counter(
            "issuepilot_handed",
            "Deliveries handed on, by engine (actions, workers) and outcome (started, "
            "queued, ignored, duplicate, failed)",
            ["engine", "outcome"],
            registry=registry,
        )
        self.lag = Histogram(
            "issuepilot_dispatch_lag_seconds",
            "From a delivery's arrival to its step being started or queued",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=registry,
        )
        self.errors = Counter(
            "issuepilot_dispatch_errors",
            "Deliveries that could not be handed on, by reason",
            ["reason"],
            registry=registry,
        )
        self.redelivered = Counter(
            "issuepilot_redeliveries",
            "Failed deliveries GitHub was asked to deliver again",
            registry=registry,
        )

    def text(self) -> bytes:
        return generate_latest(self.registry)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.steps = Histogram(
            "issuepilot_step_seconds",
            "Steps run by this worker, by outcome (done, failed, busy, error)",
            ["outcome"],
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 2400),
            registry=registry,
        )
