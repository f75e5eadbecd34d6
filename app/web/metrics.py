"""The portal's figures for Prometheus: requests by endpoint and status, their latency,
submissions by outcome, confirmations and rate-limit hits.

gunicorn runs several worker processes. With PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py
sets it) each process writes its figures to files in that folder, and `exposition()` adds
them up, so any worker answering /metrics tells the whole server's totals.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "delist_portal_http_requests",
    "HTTP requests answered, by Flask endpoint (none: no route matched) and status.",
    ["endpoint", "status"],
)
LATENCY = Histogram(
    "delist_portal_http_request_duration_seconds",
    "Time from the request's arrival in Flask to its answer, by endpoint.",
    ["endpoint"],
)
SUBMISSIONS = Counter(
    "delist_portal_submissions", "Delist form submissions processed, by outcome.", ["outcome"]
)
CONFIRMATIONS = Counter(
    "delist_portal_confirmations",
    "Delist IP presses that confirmed a request, by the request's status afterwards.",
    ["status"],
)
RATE_LIMIT_HITS = Counter(
    "delist_portal_rate_limit_hits", "Requests refused by a rate limit, by endpoint.", ["endpoint"]
)


def register(app: Flask) -> None:
    """Time and count every request; register before any hook that may answer early."""
    app.before_request(_start_clock)
    app.after_request(_count_request)


def _start_clock() -> None:
    g.metrics_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    endpoint = request.endpoint or "none"
    REQUESTS.labels(endpoint, str(response.status_code)).inc()
    started = g.get("metrics_started")
    if started is not None:  # None: a hook before ours answered (it did not time it)
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    return response


def count_submission(outcome: str) -> None:
    SUBMISSIONS.labels(outcome).inc()


def count_confirmation(status: str) -> None:
    CONFIRMATIONS.labels(status).inc()


def count_rate_limit_hit() -> None:
    RATE_LIMIT_HITS.labels(request.endpoint or "none").inc()


def exposition() -> tuple[bytes, str]:
    """The text Prometheus reads, and its content type: every worker's figures together
    in multiprocess mode, else this process's (with its CPU and memory)."""
    registry: CollectorRegistry = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
