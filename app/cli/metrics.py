"""Metrics of the long-running commands, on an HTTP port of their own (`--metrics-listen`):
the worker's figures, and the server that exposes them or the policy service's.

Each command has its own registry: the portal's request metrics, defined when the app is
built, are not the worker's or the policy service's business.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import click
import sqlalchemy as sa
from flask import Flask
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.cli.common import host_port
from app.cli.worker import PassReport
from app.core.clock import utcnow
from app.mail import outbox


def serve_metrics(listen: str, collector: Collector) -> None:
    """Serve `collector` (and the process's CPU, memory and GC figures) on HOST:PORT from a
    thread, at any path; a port that cannot be had is one line and exit 1."""
    host, port = host_port(listen, "--metrics-listen")
    registry = CollectorRegistry()
    for standard in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR, collector):
        registry.register(standard)
    try:
        start_http_server(port, host, registry=registry)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {listen} for metrics: {exc.strerror}"
        ) from None


class WorkerMetrics(Collector):
    """Totals of the passes so far, and the outbox as the database holds it when scraped."""

    def __init__(self, app: Flask):
        self.app = app
        self.lock = threading.Lock()  # the loop adds while the metrics thread reads
        self.totals = dict.fromkeys(COUNTERS, 0)
        self.last_success: float | None = None

    def passed(self, report: PassReport) -> None:
        delivery = report.delivery
        with self.lock:
            for name, value in (
                ("mail_attempts", delivery.attempts),
                ("mail_failures", delivery.retrying + delivery.failed),
                ("mail_given_up", delivery.failed),
                ("removals_finalised", report.removals_finalised),
                ("listings_expired", report.listings_expired),
                ("requests_expired", report.requests_expired),
            ):
                self.totals[name] += value
            self.last_success = time.time()

    def failed(self) -> None:
        with self.lock:
            self.totals["passes_failed"] += 1

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            totals, last_success = dict(self.totals), self.last_success
        for name, help_text in COUNTERS.items():
            yield CounterMetricFamily(f"delist_worker_{name}", help_text, value=totals[name])
        if last_success is not None:
            yield GaugeMetricFamily(
                "delist_worker_last_success_timestamp_seconds",
                "When the last pass without a database error ended (Unix time).",
                value=last_success,
            )
        yield from self._outbox()

    def _outbox(self) -> Iterator[Metric]:
        """Asked at each scrape; nothing when the database does not answer."""
        now = utcnow()
        try:
            with self.app.app_context():
                state = outbox.queue_state(now)
        except sa.exc.DBAPIError:  # the pass's own log says what is wrong with the database
            return
        depth = GaugeMetricFamily(
            "delist_worker_outbox_messages",
            "Messages in the outbox by status (queued, sending, failed; sent not counted).",
            labels=["status"],
        )
        for status, count in state.by_status.items():
            depth.add_metric([status], count)
        yield depth
        age = (now - state.oldest_due_at).total_seconds() if state.oldest_due_at else 0.0
        yield GaugeMetricFamily(
            "delist_worker_outbox_oldest_due_age_seconds",
            "How long the longest-waiting due message has been due (0: none is due).",
            value=max(age, 0.0),
        )


COUNTERS = {
    "mail_attempts": "Delivery attempts of outbox messages.",
    "mail_failures": "Delivery attempts that failed (to be retried, or given up).",
    "mail_given_up": "Messages given up after their last attempt (MAIL_MAX_ATTEMPTS or refused).",
    "removals_finalised": "Scheduled removals recorded as done.",
    "listings_expired": "Listings that ended by expiry, recorded as done.",
    "requests_expired": "Pending requests expired unconfirmed.",
    "passes_failed": "Passes that stopped on a database error.",
}
