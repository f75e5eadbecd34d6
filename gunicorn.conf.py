"""gunicorn settings read from the working directory: keep secrets out of the access log, and
add up the workers' metrics."""

import os
import shutil
import tempfile
from pathlib import Path

logger_class = "app.web.gunicorn_logging.RedactingLogger"

# Each worker writes its metrics to files in this folder and /metrics adds them up
# (prometheus_client's multiprocess mode). Set before any worker imports the library;
# without PROMETHEUS_MULTIPROC_DIR in the environment, a private temporary folder.
OWN_METRICS_DIR_PREFIX = "delist-metrics-"
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=OWN_METRICS_DIR_PREFIX)


def on_starting(server):
    """Start from zero: files left by an earlier server would be added to this one's."""
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """A worker ended: its counters stay in the totals, its live gauges go."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the temporary folder made above (a reload reads this file again: by its name)."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if folder.parent == Path(tempfile.gettempdir()) and folder.name.startswith(
        OWN_METRICS_DIR_PREFIX
    ):
        shutil.rmtree(folder, ignore_errors=True)
