"""HEAD answers like GET, without the body: link checkers and monitors use it."""

import pytest

from tests.helpers import add_listings


@pytest.mark.parametrize(
    "path", ["/", "/?ip=203.0.113.7", "/report", "/help", "/lookup?ip=203.0.113.7"]
)
def test_head_gets_the_headers_of_get_and_no_body(app, path):
    add_listings(app, "203.0.113.7")
    head = app.test_client().head(path)
    get = app.test_client().get(path)
    assert (head.status_code, get.status_code) == (200, 200)
    assert head.data == b""
    assert sorted(head.headers.keys()) == sorted(get.headers.keys())
    for name in ("Content-Type", "Content-Security-Policy", "Content-Length"):
        assert head.headers.get(name) == get.headers.get(name)
