"""Benchmark: the portal under gunicorn and wrk, against a bare Flask app in the same run.

    .venv/bin/python bench/web.py                      # SQLite in a temporary folder
    .venv/bin/python bench/web.py --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/web.py --mode both --redis-url redis://127.0.0.1:6379/13

Both apps run under the same gunicorn settings (sync workers, --workers), and wrk
(Debian's package) loads them over loopback with the same threads, connections and
duration. Measured for the portal: the form (GET /), a valid submission that writes
a request and its outbox mail (POST /, each one for another listed IP and email),
and the Delist IP page of a real link (GET /confirm/<token>). The bare app's
GET / is measured before and after them; the ratio uses the mean of the two.
Afterwards the resident memory of each portal worker is read from /proc.

Two modes (--mode bench|production|both), each on a fresh database:

- bench (the default): rate limits and the proof of work off (RATELIMIT_ENABLED=false,
  CHALLENGE_ENABLED=false) and WARNING logs, as the README says benchmarks should run.
- production, as deployed: rate limits on, counted in Redis (RATELIMIT_STORAGE_URI=
  --redis-url, whose LIMITS:* counters the run clears first), every limit set to
  PRODUCTION_LIMIT so that wrk is counted but never refused (the run reports the highest
  counter and checks that no request was refused); INFO logs, so the security log writes
  a line for each event; and CHALLENGE_ENABLED=true, each submission carrying its own
  solved proof of work. The challenges are made by the portal's own code with the
  bench's secret before wrk starts (with a small maxnumber, so that solving them here
  takes seconds; the server's work for one is the same at any maxnumber) and each wrk
  thread reads its own file of them. After the wrk runs, the round trips each request
  makes to Redis are counted with MONITOR over a few requests sent one at a time.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from http.cookiejar import CookieJar
from ipaddress import ip_network
from pathlib import Path

import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import lookup as helpers
from flask_migrate import upgrade

import config
from app import create_app
from app.abuse import challenge
from app.core.actor import Actor
from app.delisting import submission
from app.extensions import db
from app.listing.addresses import parse_address
from app.models import DelistRequest, OutboxMessage
from tests.helpers import free_port
from tests.helpers_browser import gunicorn_server
from tests.test_challenge import solution

SECRET = "bench-" + "x" * 40
THREADS = 2  # wrk threads; each submits for its own 10.<thread>.x.y addresses
# wrk numbers its threads (0, 1, ...) so each one writes its own 10.<id>.x.y addresses.
THREAD_IDS = """
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
"""


def post_init(headers: dict[str, str], extra: str = "") -> str:
    """wrk's per-thread set-up for POSTs with these headers (values may hold %(...)s), after
    THREAD_IDS; `n` counts the thread's requests; `extra` is more of init's Lua."""
    lines = "".join(f'  wrk.headers["{name}"] = "{value}"\n' for name, value in headers.items())
    return THREAD_IDS + f'function init(args)\n  n = 0\n  wrk.method = "POST"\n{lines}{extra}end\n'


def submitting(more: str = "") -> str:
    """wrk's request(): a valid submission for the thread's next address, with `more` Lua
    appended to the body."""
    return f"""function request()
  n = n + 1
  local ip = string.format("10.%%d.%%d.%%d", id, math.floor(n / 256) %% 256, n %% 256)
  local body = "csrf_token=%(token)s&email=u" .. id .. "-" .. n .. "%%40example.com&ip=" .. ip{more}
  return wrk.format(nil, "/", nil, body)
end
"""


FORM = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": "%(cookie)s"}
POST_SCRIPT = post_init(FORM) + submitting()
# Production: each thread reads its file of solved challenges, one for each submission.
READ_SOLVED = """  solved = {}
  for line in io.lines("%(challenges)s/" .. id .. ".txt") do
    solved[#solved + 1] = line
  end
"""
PRODUCTION_POST_SCRIPT = post_init(FORM, READ_SOLVED) + submitting(
    ' .. "&altcha=" .. solved[(n - 1) %% #solved + 1]'
)
# Every rate limit in production mode: each request is counted, none is refused.
PRODUCTION_COUNT = 1_000_000
PRODUCTION_LIMIT = f"{PRODUCTION_COUNT} per hour"
EASY = 1000  # the bench's challenges' maxnumber: solved here in under a millisecond each
PROBES = 20  # requests sent one at a time to count the round trips to Redis


def env_for(database_url: str, port: int, redis_url: str | None = None) -> dict:
    """The portal's settings: bench mode, or production mode with its limits in `redis_url`."""
    env = {
        **os.environ,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "DELIST_ALLOW_NON_GLOBAL_IPS": "true",
        "RATELIMIT_ENABLED": "false",
        "CHALLENGE_ENABLED": "false",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(free_port()),  # no worker runs: mail stays queued
        "LOG_LEVEL": "WARNING",
    }
    if redis_url:
        env |= {
            "RATELIMIT_ENABLED": "true",
            "RATELIMIT_STORAGE_URI": redis_url,
            **dict.fromkeys(config.RATE_LIMIT_SETTINGS, PRODUCTION_LIMIT),
            "CHALLENGE_ENABLED": "true",
            "LOG_LEVEL": "INFO",
        }
    return env


def prepare(database_url: str, per_thread: int) -> str:
    """Migrate, list addresses for the submissions, and make one real link; return its path."""
    app = create_app(
        {"SECRET_KEY": SECRET, "PUBLIC_BASE_URL": "http://bench", "DATABASE_URL": database_url}
    )
    with app.app_context():
        upgrade()
        # The addresses the wrk script submits for (10.<thread>.x.y), the probes' (the next
        # second octet), and one for the link.
        addresses = [parse_address("203.0.113.7")]
        for thread in range(THREADS):
            addresses += helpers.sequential_addresses(per_thread, thread)
        addresses += helpers.sequential_addresses(PROBES, THREADS)
        helpers.insert_networks([ip_network(address) for address in addresses])
        submission.submit(
            "link@example.com",
            parse_address("203.0.113.7"),
            actor=Actor.sender(None),
            locale="en",
            now=datetime.now(UTC),
        )
        db.session.commit()
        body = db.session.scalar(sa.select(OutboxMessage.body_text))
        db.engine.dispose()
    return re.search(r"/confirm/[A-Za-z0-9_.\-]+", body).group(0)


def solved_challenges(database_url: str, folder: Path, per_thread: int) -> list[str]:
    """Write each wrk thread's file of solved challenges, URL-encoded, one a line, made by
    the portal's code with the bench's secret; return PROBES more for the probes."""
    app = create_app(
        {"SECRET_KEY": SECRET, "PUBLIC_BASE_URL": "http://bench", "DATABASE_URL": database_url}
    )
    with app.app_context():
        now = datetime.now(UTC)

        def solved() -> str:
            made = challenge.new_challenge(now, max_number=EASY)
            return urllib.parse.quote(solution(made), safe="")

        for thread in range(THREADS):
            lines = [solved() for _ in range(per_thread)]
            (folder / f"{thread}.txt").write_text("\n".join(lines) + "\n")
        return [solved() for _ in range(PROBES)]


def wrk(url: str, duration: int, connections: int, script: Path | None = None) -> dict:
    command = ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", output).group(1))
    p50 = _ms(re.search(r"50%\s+([\d.]+\w+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rate": rate,
        "p50": p50,
        "p99": p99,
        "requests": total,
        "errors": int(bad.group(1)) if bad else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "none",
    }


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def session_and_token(base: str) -> tuple[str, str]:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, token


def worker_rss_mib(master: subprocess.Popen) -> list[float]:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    sizes = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024)
    return sizes


def clear_counters(redis_url: str) -> None:
    """Delete the rate limits' counters (limits' LIMITS:* keys) in the bench's database."""
    client = redis.Redis.from_url(redis_url)
    for keys in _batches(list(client.scan_iter("LIMITS:*", count=1000))):
        client.delete(*keys)


def highest_counter(redis_url: str) -> int:
    """The highest count of any rate limit: below PRODUCTION_LIMIT, no request was refused."""
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter("LIMITS:*", count=1000))
    return max((int(v or 0) for chunk in _batches(keys) for v in client.mget(chunk)), default=0)


def _batches(keys: list, size: int = 1000) -> list[list]:
    return [keys[at : at + size] for at in range(0, len(keys), size)]


def round_trips(redis_url: str, send) -> float:
    """Commands the portal sends Redis for one request, over PROBES requests sent one at a
    time (MONITOR; a script counts once, the commands it runs inside Redis not at all)."""
    client = redis.Redis.from_url(redis_url)
    database = client.connection_pool.connection_kwargs.get("db", 0)
    marker = "bench-probes-done-" + secrets.token_hex(4)
    client.ping()  # connected (and its database selected) before MONITOR starts
    seen = []
    with redis.Redis.from_url(redis_url).monitor() as monitor:

        def watch() -> None:
            for command in monitor.listen():
                if marker in command["command"]:
                    return
                if command["client_type"] != "lua" and command["db"] == database:
                    seen.append(command["command"])

        watcher = threading.Thread(target=watch)
        watcher.start()
        for probe in range(PROBES):
            send(probe)
        client.echo(marker)
        watcher.join(timeout=30)
    return len(seen) / PROBES


def get(url: str) -> None:
    urllib.request.urlopen(url, timeout=10).read()  # noqa: S310  (loopback)


def probe_submission(base: str, solved: list[str]):
    """A submission sent with urllib for probe number n (its own listed address)."""
    cookie, token = session_and_token(base)
    addresses = helpers.sequential_addresses(PROBES, THREADS)

    def send(n: int) -> None:
        body = (
            f"csrf_token={token}&email=probe-{n}%40example.com&ip={addresses[n]}&altcha={solved[n]}"
        )
        headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        sent = urllib.request.Request(base + "/", data=body.encode(), headers=headers)  # noqa: S310
        answer = urllib.request.urlopen(sent, timeout=10).read().decode()  # noqa: S310
        if "Check your inbox" not in answer:
            raise RuntimeError(f"probe submission {n} was not accepted")

    return send


def measure(args, mode: str, url: str) -> dict:
    """One mode's figures on a fresh database `url`."""
    per_thread = 60_000  # more than any run submits
    link = prepare(url, per_thread)
    redis_url = args.redis_url if mode == "production" else None
    portal_port, hello_port = free_port(), free_port()
    results, trips, highest = {}, {}, None
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "post.lua"
        if redis_url:
            probes = solved_challenges(url, Path(folder), per_thread=400 * args.duration)
            clear_counters(redis_url)
        with (
            gunicorn_server(
                "hello:app", {**os.environ}, hello_port, cwd=ROOT / "bench", workers=args.workers
            ),
            gunicorn_server(
                "wsgi:app",
                env_for(url, portal_port, redis_url),
                portal_port,
                workers=args.workers,
            ) as portal,
        ):
            hello = f"http://127.0.0.1:{hello_port}/"
            base = f"http://127.0.0.1:{portal_port}"
            for warm_up in (hello, base + "/"):
                get(warm_up)
            results["bare, before"] = wrk(hello, args.duration, args.connections)
            results["GET /"] = wrk(base + "/", args.duration, args.connections)
            cookie, token = session_and_token(base)
            template = PRODUCTION_POST_SCRIPT if redis_url else POST_SCRIPT
            script.write_text(template % {"cookie": cookie, "token": token, "challenges": folder})
            results["POST /"] = wrk(base + "/", args.duration, args.connections, script)
            results["GET /confirm/<token>"] = wrk(base + link, args.duration, args.connections)
            results["bare, after"] = wrk(hello, args.duration, args.connections)
            rss = worker_rss_mib(portal)
            if redis_url:
                highest = highest_counter(redis_url)
                trips = {
                    "GET /": round_trips(redis_url, lambda n: get(base + "/")),
                    "POST /": round_trips(redis_url, probe_submission(base, probes)),
                    "GET /confirm/<token>": round_trips(redis_url, lambda n: get(base + link)),
                }
    app = create_app({"SECRET_KEY": SECRET, "PUBLIC_BASE_URL": "http://bench", "DATABASE_URL": url})
    with app.app_context():
        written = db.session.scalar(sa.select(sa.func.count()).select_from(DelistRequest)) - 1
        db.engine.dispose()
    written -= PROBES if redis_url else 0
    return {"results": results, "rss": rss, "written": written, "trips": trips, "highest": highest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers, both apps")
    parser.add_argument("--mode", choices=["bench", "production", "both"], default="both")
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/13",
        help="production mode's rate-limit storage; its LIMITS:* keys are cleared first",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    modes = ["bench", "production"] if args.mode == "both" else [args.mode]
    if "production" in modes:
        try:
            redis.Redis.from_url(args.redis_url).ping()
        except redis.RedisError as error:
            raise SystemExit(f"Redis is not reachable at {args.redis_url}: {error}") from None
    measured = {}
    for mode in modes:
        for _, url, _ in helpers.scratch_databases(args.database_url, [0]):
            measured[mode] = measure(args, mode, url)
        report(args, mode, measured[mode])
    if len(measured) == 2:
        side_by_side(measured)


def _bare(results: dict) -> float:
    return (results["bare, before"]["rate"] + results["bare, after"]["rate"]) / 2


def report(args, mode: str, figures: dict) -> None:
    results = figures["results"]
    bare = _bare(results)
    engine = "PostgreSQL" if args.database_url else "SQLite"
    settings = (
        "rate limits in Redis, INFO logs, proof of work on"
        if mode == "production"
        else "rate limits and proof of work off"
    )
    print(
        f"{engine}, {mode} mode ({settings}): gunicorn --workers {args.workers} (sync), "
        f"wrk -t{THREADS} -c{args.connections} -d{args.duration}s; bare app {bare:,.0f} req/s "
        f"(mean of {results['bare, before']['rate']:,.0f} and "
        f"{results['bare, after']['rate']:,.0f})"
    )
    print()
    print("| Request | req/s | Ratio to bare | p50 ms | p99 ms | Requests | Errors |")
    print("|---|---|---|---|---|---|---|")
    for name, result in results.items():
        print(
            f"| {name} | {result['rate']:,.0f} | {result['rate'] / bare:.2f} | "
            f"{result['p50']:.1f} | {result['p99']:.1f} | {result['requests']:,} | "
            f"{result['errors']} (socket: {result['socket_errors']}) |"
        )
    posted = results["POST /"]["requests"]
    print()
    print(f"POST /: {figures['written']:,} requests written for {posted:,} submissions sent.")
    rss = ", ".join(f"{size:.0f}" for size in figures["rss"])
    print(f"Portal worker RSS after the run: {rss} MiB.")
    if mode == "production":
        refused = "none" if figures["highest"] < PRODUCTION_COUNT else "some"
        print(
            f"Rate limits: requests refused: {refused} (the highest counter reached "
            f"{figures['highest']:,} of {PRODUCTION_COUNT:,} an hour; a 429 would be in Errors)."
        )
        trips = ", ".join(f"{name} {count:.1f}" for name, count in figures["trips"].items())
        print(f"Round trips to Redis per request ({PROBES} requests one at a time): {trips}.")
    print()


def side_by_side(measured: dict) -> None:
    print("| Request | bench req/s | bench ratio | production req/s | production ratio |")
    print("|---|---|---|---|---|")
    bench, production = measured["bench"]["results"], measured["production"]["results"]
    for name in ("GET /", "POST /", "GET /confirm/<token>"):
        print(
            f"| {name} | {bench[name]['rate']:,.0f} | {bench[name]['rate'] / _bare(bench):.2f} | "
            f"{production[name]['rate']:,.0f} | "
            f"{production[name]['rate'] / _bare(production):.2f} |"
        )


if __name__ == "__main__":
    main()
