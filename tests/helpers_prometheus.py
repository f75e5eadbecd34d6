"""A private Prometheus server (Debian's) on loopback for the tests: its own configuration
file and storage in a temporary folder, scraping every second, stopped with the block; and
the queries the tests ask through its HTTP API."""

from __future__ import annotations

import http.cookiejar
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from tests.helpers import csrf_token, free_port
from tests.helpers_browser import PROJECT_ROOT, stop, wait_for_port
from tests.helpers_mta import require

SCRAPE_SECONDS = 1


def scrape_config(targets: dict[str, str]) -> str:
    """One job per target (job name -> HOST:PORT), each read every second at /metrics.
    JSON is YAML, so no YAML library is needed to write it."""
    return json.dumps(
        {
            "global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "scrape_timeout": "1s"},
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [target]}]}
                for job, target in targets.items()
            ],
        },
        indent=2,
    )


@contextmanager
def prometheus_server(targets: dict[str, str]) -> Iterator[str]:
    """Prometheus scraping `targets` until the block ends; yields its base URL."""
    program = require("prometheus")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="prometheus-") as folder:
        config = Path(folder) / "prometheus.yml"
        config.write_text(scrape_config(targets))
        log = Path(folder) / "prometheus.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [
                    program,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={Path(folder) / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--storage.tsdb.retention.time=1h",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=folder,
            )
        try:
            wait_for_port(port, process, log, name="prometheus")
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process)


def query(base_url: str, promql: str) -> float | None:
    """The value of an instant query's single result, None when it has none."""
    url = f"{base_url}/api/v1/query?{urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (our http URL)
        answer = json.load(response)
    assert answer["status"] == "success", answer
    results = answer["data"]["result"]
    assert len(results) <= 1, f"{promql} has {len(results)} series; aggregate it"
    return float(results[0]["value"][1]) if results else None


def wait_for_values(base_url: str, expected: dict[str, float], timeout: float = 30) -> None:
    """Wait until every query answers its expected value (scrapes come each second); fail
    with what each query answered last."""
    deadline = time.monotonic() + timeout
    while True:
        answered = {promql: query(base_url, promql) for promql in expected}
        if answered == expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert answered == expected


def targets_up(base_url: str) -> dict[str, str]:
    """Each scrape job's health as Prometheus sees it ("up", "down", "unknown")."""
    url = f"{base_url}/api/v1/targets"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (our http URL)
        active = json.load(response)["data"]["activeTargets"]
    return {target["labels"]["job"]: target["health"] for target in active}


@contextmanager
def flask_process(args: list[str], env: dict[str, str], port: int) -> Iterator[None]:
    """`flask --app wsgi ARGS` as a process of its own until the block ends, once it
    listens on `port`; its output goes to a temporary log, shown if it does not start."""
    with tempfile.NamedTemporaryFile(prefix="flask-", suffix=".log", delete=False) as handle:
        log = Path(handle.name)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, log, name=" ".join(args[:1]))
        yield
    finally:
        stop(process)
        log.unlink(missing_ok=True)


class Browser:
    """Plain HTTP to a portal, keeping its cookies, as a browser would."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base_url + path, timeout=30) as response:
            return response.read().decode()

    def post(self, path: str, form: dict[str, str]) -> str:
        body = urlencode(form).encode()
        with self.opener.open(self.base_url + path, data=body, timeout=30) as response:
            return response.read().decode()

    def submit(self, email: str, ip: str) -> str:
        page = self.get("/")
        return self.post("/", {"csrf_token": csrf_token(page), "email": email, "ip": ip})

    def press_delist(self, link: str) -> str:
        path = link.removeprefix(self.base_url)
        return self.post(path, {"csrf_token": csrf_token(self.get(path))})
