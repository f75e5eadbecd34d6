"""Real mail software for end-to-end tests: a private loopback Postfix and rbldnsd.

Each runs from its own temporary folder on free loopback ports and is stopped by
the fixture. Tests skip where a program is missing, except in CI (CI=true), where
a missing program is a failure: `.ci/run` installs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def require(program: str) -> str:
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin")
    if path:
        return path
    message = f"{program} is not installed (scripts/install-test-tools installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def public_folder() -> Path:
    """A temporary folder the daemons' own users (postfix, rbldns) can enter."""
    folder = Path(tempfile.mkdtemp(prefix="delist-mta-"))
    folder.chmod(0o755)
    return folder


MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.test
mydomain = example.test
myorigin = example.test
mydestination = example.test
local_recipient_maps =
local_transport = discard
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtpd_authorized_xclient_hosts = 127.0.0.1
smtpd_client_restrictions = check_policy_service {{ inet:127.0.0.1:{policy_port},
    timeout=5s, default_action=DUNNO }}
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
syslog_name = postfix-test
"""


class Postfix:
    """A Postfix instance of its own: config, queue and log under one folder."""

    def __init__(self, smtp_port: int, policy_port: int, *settings: str):
        """`settings` are extra main.cf lines (`name = value`)."""
        self.postfix = require("postfix")
        self.smtp_port = smtp_port
        self.root = public_folder()
        self.conf = self.root / "conf"
        for sub in ("conf", "queue", "data"):
            (self.root / sub).mkdir()
        shutil.chown(self.root / "data", "postfix")
        shutil.copy("/etc/postfix/master.cf", self.conf / "master.cf")
        main_cf = MAIN_CF.format(root=self.root, policy_port=policy_port)
        (self.conf / "main.cf").write_text(main_cf + "".join(f"{line}\n" for line in settings))
        self.postconf("-M#", "smtp/inet")
        self.postconf(
            "-Me", f"127.0.0.1:{smtp_port}/inet=127.0.0.1:{smtp_port} inet n - n - - smtpd"
        )
        self.postconf("-F", "*/*/chroot=n")

    def postconf(self, *args: str) -> None:
        subprocess.run(["postconf", "-c", str(self.conf), *args], check=True, timeout=30)

    def start(self) -> None:
        subprocess.run([self.postfix, "-c", str(self.conf), "start"], check=True, timeout=60)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if swaks_reachable(self.smtp_port):
                return
            time.sleep(0.2)
        raise RuntimeError(f"Postfix did not start; log:\n{self.log()}")

    def stop(self) -> None:
        subprocess.run([self.postfix, "-c", str(self.conf), "stop"], timeout=60, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text() if path.exists() else ""


def swaks_reachable(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def swaks(port: int, source: str, to: str = "user@example.test") -> str:
    """Run swaks up to RCPT from `source` (a 127.x address); return its transcript."""
    result = subprocess.run(
        [
            require("swaks"),
            "--server",
            f"127.0.0.1:{port}",
            "--local-interface",
            source,
            "--from",
            "sender@sender.test",
            "--to",
            to,
            "--quit-after",
            "RCPT",
            "--timeout",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout + result.stderr


class Rbldnsd:
    """rbldnsd serving one zone from an exported IPv4 and IPv6 dataset."""

    def __init__(self, zone: str, ip4: Path, ip6: Path, port: int):
        self.process = subprocess.Popen(
            [
                require("rbldnsd"),
                "-n",
                "-b",
                f"127.0.0.1/{port}",
                "-c",
                "1s",
                f"{zone}:ip4set:{ip4}",
                f"{zone}:ip6trie:{ip6}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.port = port

    def stop(self) -> str:
        self.process.terminate()
        output, _ = self.process.communicate(timeout=10)
        return output


FAIL2BAN_JAIL = """\
[DEFAULT]
enabled = false

[delist-portal-trap]
enabled = true
filter = delist-portal-trap[traps="{traps}"]
logpath = {logpath}
backend = polling
maxretry = 1
findtime = 1h
bantime = 1h
action = delist-portal[portal_url="{portal_url}", auth_file="{auth_file}"]
"""


class Fail2ban:
    """fail2ban with Debian's configuration, our contrib files and one jail of its own.

    Its socket, database and log live in a temporary folder; the system's fail2ban (if
    any runs) is not touched.
    """

    def __init__(self, contrib: Path, *, logpath: Path, portal_url: str, key: str, traps: str):
        self.server = require("fail2ban-server")
        self.root = Path(tempfile.mkdtemp(prefix="delist-fail2ban-"))
        self.conf = self.root / "conf"
        shutil.copytree("/etc/fail2ban", self.conf)
        shutil.rmtree(self.conf / "jail.d")  # Debian's defaults enable the sshd jail
        shutil.copytree(contrib, self.conf, dirs_exist_ok=True)
        (self.conf / "jail.d" / "delist-portal-trap.conf").unlink()  # the example jail
        auth_file = self.root / "portal.header"
        auth_file.write_text(f"Authorization: Bearer {key}\n")
        auth_file.chmod(0o600)
        (self.conf / "jail.local").write_text(
            FAIL2BAN_JAIL.format(
                traps=traps, logpath=logpath, portal_url=portal_url, auth_file=auth_file
            )
        )
        (self.conf / "fail2ban.local").write_text(
            f"[Definition]\ndbfile = {self.root}/fail2ban.sqlite3\n"
        )
        self.log_path = self.root / "fail2ban.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(self.server, "-f", "-x", "-c", str(self.conf)),
                *("-s", str(self.root / "fail2ban.sock"), "-p", str(self.root / "fail2ban.pid")),
                *("--logtarget", str(self.log_path), "--loglevel", "INFO"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while "Jail 'delist-portal-trap' started" not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fail2ban did not start its jail; log:\n{self.log()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""
