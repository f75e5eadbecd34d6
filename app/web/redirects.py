"""Where a `next` parameter may send the browser: a path on this site, nothing else.

Browsers are lenient with what they are told to open: they drop tabs and newlines
anywhere in a URL, read a backslash as a slash, and take `//host` as another site,
so `/\\t/evil.example` arrives as `//evil.example`. A target passes only if no
character of that kind is in it, encoded or not, and its path starts with one slash.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

# Control characters (tabs, CR, LF, NUL...), white space and backslashes.
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
_PATH_END = re.compile(r"[?#]")
_MAX_DECODING = 4  # "%25252F" is "/" after three rounds; more is not a path of ours


def _decoded(path: str) -> str | None:
    """The path with its percent-encoding undone until nothing changes, or None."""
    for _ in range(_MAX_DECODING):
        decoded = unquote(path)
        if decoded == path:
            return path
        path = decoded
    return None


def safe_path(target: str | None, default: str, *, under: str = "/") -> str:
    """`target` if it is a path on this site that starts with `under`, else `default`.

    The query may hold anything encoded (a search for 192.0.2.0%2F24); the path may
    not hold, even percent-encoded, a slash after a slash, a backslash or a control
    character, and the target has no scheme or host.
    """
    if not target or _UNSAFE.search(target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    path = _decoded(_PATH_END.split(target, maxsplit=1)[0])
    if path is None or not path.startswith(under) or "//" in path or _UNSAFE.search(path):
        return default
    return target
