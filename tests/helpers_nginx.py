"""Debian's nginx in front of the portal, as `contrib/nginx/delist-portal.conf` sets it up.

nginx runs as a private instance: its own prefix folder, configuration, logs and pid file,
on free loopback ports, with a self-signed certificate made by openssl for the test. The
site file is the shipped one, with only its addresses and paths replaced (each replacement
must find its text, so the file cannot drift from what is tested). A `Visitor` sends
HTTPS requests from one loopback address (127.0.0.x), as a browser there would.
"""

from __future__ import annotations

import http.client
import os
import pwd
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from tests.helpers import csrf_token, free_port
from tests.helpers_browser import PROJECT_ROOT, portal_with_mail, stop, wait_for_port
from tests.helpers_mta import require

SITE = PROJECT_ROOT / "contrib" / "nginx" / "delist-portal.conf"
HOST = "delist.example.net"  # the site file's server_name

MAIN_CONF = """\
{user}worker_processes 1;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    include {root}/delist-portal.conf;
}}
"""


def site_config(root: Path, *, upstream: int, https_port: int, http_port: int) -> str:
    """The shipped site file, listening on loopback ports and using the test's files."""
    text = SITE.read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream};",
        "/etc/ssl/delist-portal/fullchain.pem": str(root / "cert.pem"),
        "/etc/ssl/delist-portal/privkey.pem": str(root / "key.pem"),
        "/srv/delist-portal/static/": f"{PROJECT_ROOT}/static/",
        "/var/log/nginx/delist-portal.access.log": str(root / "access.log"),
    }
    for shipped, here in replacements.items():
        assert shipped in text, f"{SITE.name} no longer has {shipped!r}: update this helper"
        text = text.replace(shipped, here)
    return text


DEBIAN_MAIN_CONF = Path("/etc/nginx/nginx.conf")


def checked_beside_debians_defaults(root: Path, site: str) -> subprocess.CompletedProcess:
    """`nginx -t` of Debian's own nginx.conf with `site` as its only enabled site (its logs
    and pid file moved to `root`), as an operator installs it."""
    text = DEBIAN_MAIN_CONF.read_text()
    replacements = {
        "include /etc/nginx/sites-enabled/*;": f"include {root}/site.conf;",
        "pid /run/nginx.pid;": f"pid {root}/nginx.pid;",
        "error_log /var/log/nginx/error.log;": f"error_log {root}/error.log;",
        "access_log /var/log/nginx/access.log;": f"access_log {root}/access.log;",
    }
    for debians, here in replacements.items():
        assert debians in text, f"{DEBIAN_MAIN_CONF} no longer has {debians!r}"
        text = text.replace(debians, here)
    (root / "debian.conf").write_text(text)
    (root / "site.conf").write_text(site)
    return subprocess.run(
        [require("nginx"), "-t", "-e", str(root / "error.log"), "-c", str(root / "debian.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )


def make_certificate(root: Path) -> Path:
    """A self-signed certificate for HOST and 127.0.0.1 (cert.pem, key.pem); its path."""
    subprocess.run(
        [
            require("openssl"),
            *("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-nodes", "-days", "2", "-subj", f"/CN={HOST}"),
            *("-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1"),
            *("-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem")),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return root / "cert.pem"


@dataclass
class Nginx:
    root: Path
    https_port: int
    http_port: int

    @property
    def certificate(self) -> Path:
        return self.root / "cert.pem"

    def access_log(self, settle: float = 0.3) -> str:
        """The access log once it has stopped growing: nginx writes a request's line after
        the answer is sent, so the client may read the answer before the line is there."""
        path = self.root / "access.log"
        text, deadline = None, time.monotonic() + 10
        while True:
            now = path.read_text() if path.exists() else ""
            if (now == text and now) or time.monotonic() > deadline:
                return now
            text = now
            time.sleep(settle)


@contextmanager
def nginx_in_front(upstream: int, https_port: int, http_port: int) -> Iterator[Nginx]:
    """nginx with the shipped site in front of 127.0.0.1:`upstream` until the block ends."""
    nginx = require("nginx")
    root = Path(tempfile.mkdtemp(prefix="delist-nginx-"))
    # As root, nginx's workers would run as `nobody`, who may not read the checkout.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    (root / "nginx.conf").write_text(MAIN_CONF.format(user=user, root=root))
    site = site_config(root, upstream=upstream, https_port=https_port, http_port=http_port)
    (root / "delist-portal.conf").write_text(site)
    make_certificate(root)
    process = subprocess.Popen(
        [
            *(nginx, "-p", str(root), "-e", str(root / "error.log")),
            *("-c", str(root / "nginx.conf")),
            *("-g", f"daemon off; pid {root}/nginx.pid; error_log {root}/error.log;"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(https_port, process, root / "error.log", "nginx")
        yield Nginx(root, https_port, http_port)
    finally:
        stop(process)
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Answer:
    status: int
    headers: Message
    text: str


class Visitor:
    """HTTPS requests to nginx from the loopback address `source`, keeping cookies, as a
    browser at that address would (the Referer included, which the CSRF check reads)."""

    def __init__(self, server: Nginx, source: str):
        self.port = server.https_port
        self.source = source
        self.origin = f"https://{HOST}:{self.port}"
        self.context = ssl.create_default_context(cafile=str(server.certificate))
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None, **headers: str) -> Answer:
        # Connect to 127.0.0.1 (no DNS for HOST), naming HOST in the Host header.
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.context, source_address=(self.source, 0)
        )
        sent = {"Host": f"{HOST}:{self.port}", **headers}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            answer = Answer(response.status, response.msg, response.read().decode())
        finally:
            connection.close()
        for header in answer.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return answer

    def get(self, path: str, **headers: str) -> Answer:
        return self.request("GET", path, **headers)

    def submit(self, email: str, ip: str, **headers: str) -> Answer:
        """Load the form and send it, as a browser would."""
        page = self.get("/")
        form = {"csrf_token": csrf_token(page.text), "email": email, "ip": ip}
        return self.request("POST", "/", form, Referer=f"{self.origin}/", **headers)


@contextmanager
def portal_behind_nginx(database_url: str, *listed: str, **settings: str):
    """The portal in gunicorn (with a real SMTP sink) behind nginx at https://HOST:port;
    yields the app (for the worker and the database), nginx and the sink."""
    https_port, http_port = free_port(), free_port()
    portal_settings = {
        "PUBLIC_BASE_URL": f"https://{HOST}:{https_port}",
        "TRUSTED_HOSTS": HOST,
        "CHALLENGE_ENABLED": "false",
        **settings,
    }
    with portal_with_mail(database_url, *listed, **portal_settings) as (app, url, sink):
        upstream = int(url.rsplit(":", 1)[1])
        with nginx_in_front(upstream, https_port, http_port) as server:
            yield app, server, sink
