"""The policy service under exhaustion attempts: a connection cap that closes the oldest idle
connections, a whole-request deadline, an idle timeout, and running out of file descriptors.
"""

import contextlib
import socket
import subprocess
import sys
import time

import pytest

import config
from tests.helpers import BASE_CONFIG, add_listings, free_port, running_policy_server
from tests.test_policy import REJECT, ask, connect, request

LISTED = b"203.0.113.7"


@pytest.fixture
def server(app):
    add_listings(app, LISTED.decode(), permanent=True)
    with running_policy_server(app) as srv:
        yield srv


def closed_by_server(sock: socket.socket, within: float = 2.0) -> bool:
    """True when the server has closed `sock` (end of file or reset) within `within` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def wait_for(condition, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("app_overrides", [{"POLICY_MAX_CONNECTIONS": 50}])
def test_over_the_cap_the_oldest_idle_connections_make_room(server):
    idle = [connect(server) for _ in range(60)]
    try:
        with connect(server) as newcomer:
            assert ask(newcomer, request("203.0.113.7")) == REJECT % LISTED
            # 61 connections for 50 places: the 11 opened first were closed.
            assert all(closed_by_server(sock) for sock in idle[:11])
            for sock in idle[11:]:
                assert ask(sock, request("198.51.100.1")) == b"action=DUNNO\n\n"
            assert len(server.connections) == 50
    finally:
        for sock in idle:
            sock.close()


@pytest.mark.parametrize("app_overrides", [{"POLICY_REQUEST_TIMEOUT_SECONDS": 1}])
def test_a_request_dripped_byte_by_byte_is_cut_at_its_deadline(server):
    payload = request("203.0.113.7")
    with connect(server) as keep_alive, connect(server) as dripping:
        assert ask(keep_alive, request("203.0.113.7")) == REJECT % LISTED
        started = time.monotonic()
        dripping.settimeout(0.1)
        cut_after = None
        for byte in payload:  # one byte every 0.1 s: 25 s for the whole request
            try:
                dripping.sendall(bytes([byte]))
                if dripping.recv(100) == b"":
                    cut_after = time.monotonic() - started
                    break
            except TimeoutError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                cut_after = time.monotonic() - started
                break
            if time.monotonic() - started > 4:
                break
        assert cut_after is not None, "the dripping client was never disconnected"
        assert 0.9 < cut_after < 2.0
        # Between requests a connection is idle, not late: the deadline does not apply.
        assert ask(keep_alive, request("203.0.113.7")) == REJECT % LISTED


@pytest.mark.parametrize("app_overrides", [{"POLICY_IDLE_TIMEOUT_SECONDS": 1}])
def test_an_idle_connection_is_closed_after_the_idle_timeout(server):
    with connect(server) as sock:
        assert ask(sock, request("203.0.113.7")) == REJECT % LISTED
        started = time.monotonic()
        assert closed_by_server(sock, within=4)
        assert 0.9 < time.monotonic() - started < 3


@pytest.mark.parametrize("app_overrides", [{"POLICY_MAX_CONNECTIONS": 5}])
def test_a_connection_in_the_middle_of_a_request_is_not_closed_as_idle(server):
    payload = request("203.0.113.7")
    with connect(server) as busy:
        busy.sendall(payload[:40])  # the oldest connection, in the middle of a request
        wait_for(lambda: any(c.buffer for c in server.connections))
        newcomers = []
        try:
            for _ in range(10):  # each one answered, then idle, then closed for a later one
                newcomers.append(connect(server))
                assert ask(newcomers[-1], request("198.51.100.1")) == b"action=DUNNO\n\n"
            assert len(server.connections) == 5
            assert all(closed_by_server(sock) for sock in newcomers[:6])
            assert ask(busy, payload[40:]) == REJECT % LISTED
        finally:
            for sock in newcomers:
                sock.close()


SERVER_WITH_FEW_DESCRIPTORS = """
import resource, sys, threading
from app import create_app
from app.policy.server import PolicyServer

url, port, limit, when = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
config = %r
if when == "before start":
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
app = create_app({**config, "DATABASE_URL": url, "POLICY_MAX_CONNECTIONS": 1000})
server = PolicyServer(app, "127.0.0.1", port)
threading.Thread(target=server.run, daemon=True).start()
server.ready.wait(60)
if when == "after start":  # as if something else in the process had used them up
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
print("ready", flush=True)
sys.stdin.read()  # until the test closes it
""" % {key: value for key, value in BASE_CONFIG.items() if key != "MAIL_SERVER"}


@pytest.mark.parametrize("when", ["before start", "after start"])
def test_out_of_file_descriptors_the_server_keeps_answering(app, database_url, when):
    add_listings(app, LISTED.decode(), permanent=True)
    port = free_port()
    command = [sys.executable, "-c", SERVER_WITH_FEW_DESCRIPTORS, database_url, str(port), "256"]
    with subprocess.Popen(
        [*command, when],
        cwd=config.PROJECT_ROOT,  # this checkout's app, whatever the environment has installed
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        idle = []
        try:
            assert process.stdout.readline() == "ready\n"
            for _ in range(300):  # more connections than the server has descriptors
                with contextlib.suppress(OSError):  # the server's backlog is full for a moment
                    idle.append(socket.create_connection(("127.0.0.1", port), timeout=0.5))
            with socket.create_connection(("127.0.0.1", port), timeout=5) as newcomer:
                assert ask(newcomer, request("203.0.113.7")) == REJECT % LISTED
            assert process.poll() is None
        finally:
            for sock in idle:
                sock.close()
            process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        log = process.stderr.read()
    assert "Traceback" not in log, log
    if when == "after start":
        assert log.count("cannot accept") == 1, log  # once, not once a second
    else:
        assert "POLICY_MAX_CONNECTIONS=1000 does not fit" in log, log


def test_answers_to_a_client_that_does_not_read_them_are_not_piled_up(server):
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting
        sock.connect(("127.0.0.1", server.port))
        sock.settimeout(0.5)
        chunk = request("203.0.113.7") * 1000  # about 240 KiB of answers for each
        try:
            for _ in range(60):
                sock.sendall(chunk)
        except TimeoutError:
            pass  # the server stopped reading: what we want
        [connection] = server.connections
        transport = connection.transport
        wait_for(lambda: not transport.is_reading() or transport.get_write_buffer_size() > 2**20)
        assert transport.get_write_buffer_size() < 2**20
