"""The admin import upload: files up to ADMIN_IMPORT_MAX_BYTES, every other form stays small."""

import io

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.extensions import db
from app.models import Listing
from tests.helpers import csrf_token, page_text
from tests.helpers_admin import signed_in


@pytest.fixture
def admin(app):
    return signed_in(app, "admin")


def upload(admin, data: bytes, reason="Feed", name="list.txt"):
    """Send the import form with `data` as the file, as a browser does."""
    page = admin.get("/admin/import")
    fields = {"csrf_token": csrf_token(page.text), "reason": reason}
    # The body built in memory: the test client spools a large one to a temporary file
    # that it leaves open when the app refuses the body without reading it.
    boundary, body = encode_multipart({**fields, "file": FileStorage(io.BytesIO(data), name)})
    return admin.post(
        "/admin/import", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def big_list(lines: int) -> bytes:
    """`lines` addresses of 198.18.0.0/15, each with a comment: about 50 bytes a line."""
    return b"".join(
        b"198.%d.%d.%d  # seen at trap-%06d on the mail relay\n"
        % (18 + n // 65536, n // 256 % 256, n % 256, n)
        for n in range(lines)
    )


def listings(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Listing))


def test_a_five_megabyte_list_uploads_and_imports(app, admin):
    data = big_list(100_000)
    assert len(data) > 5_000_000
    response = upload(admin, data)
    assert response.status_code == 200, page_text(response)[:300]
    assert "100000 added, 0 already listed, 0 rejected" in page_text(response)
    assert listings(app) == 100_000


@pytest.mark.parametrize("app_overrides", [{"ADMIN_IMPORT_MAX_BYTES": 1_048_576}])
def test_a_file_over_the_limit_gets_the_413_page_and_nothing_is_imported(app, admin):
    response = upload(admin, big_list(25_000))  # 1.25 MB
    assert response.status_code == 413
    assert "What you sent is too large." in page_text(response)
    assert listings(app) == 0
    under = upload(admin, big_list(18_000))  # 0.9 MB: fine, far above MAX_CONTENT_LENGTH
    assert under.status_code == 200
    assert listings(app) == 18_000


def test_other_forms_keep_the_small_limit(app, admin):
    page = admin.get("/admin/listings/new")
    response = admin.post(
        "/admin/listings/new",
        data={"csrf_token": csrf_token(page.text), "network": "x" * 100_000, "reason": "x"},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("line", "read_as"),
    [("0.0.0.0/0", "0.0.0.0/0"), ("::/0", "::/0"), ("::ffff:0.0.0.0/96", "0.0.0.0/0")],
)
def test_the_whole_address_space_is_refused_with_its_line(app, admin, line, read_as):
    response = upload(admin, f"192.0.2.1\n{line}\n".encode())
    assert response.status_code == 200
    text = page_text(response)
    assert "1 added, 0 already listed, 1 rejected" in text
    assert f"2 {line} {read_as} is too wide to list" in text
    assert listings(app) == 1


def test_the_listing_form_refuses_the_whole_address_space(app, admin):
    page = admin.get("/admin/listings/new")
    response = admin.post(
        "/admin/listings/new",
        data={"csrf_token": csrf_token(page.text), "network": "::/0", "reason": "everything"},
    )
    assert response.status_code == 400
    assert "::/0 is too wide to list: at most a /19" in page_text(response)
    assert listings(app) == 0


def test_the_cli_refuses_the_whole_address_space(app, runner):
    result = runner.invoke(args=["blocklist", "add", "0.0.0.0/0", "--reason", "everything"])
    assert result.exit_code != 0
    assert "0.0.0.0/0 is too wide to list: at most a /8" in result.output
    assert "Traceback" not in result.output
    assert listings(app) == 0
