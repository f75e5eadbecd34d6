"""The email address a sender types: RFC 5321 limits the part before the @ to 64 characters."""

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AbuseReport, DelistRequest
from tests.helpers import add_listings, page_text, submit_form
from tests.test_report import send_report

LOCAL_64 = "l" * 64
LOCAL_65 = "l" * 65


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def email_error(response) -> str:
    return response.text.split('id="email-error"', 1)[1].split("</p>", 1)[0]


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("en", "The part before the @ is too long (at most 64 characters)."),
        ("ja", "@ より前の部分が長すぎます（64 文字まで）。"),
    ],
)
def test_a_local_part_over_64_characters_is_refused_next_to_the_field(
    app, client, language, message
):
    add_listings(app, "203.0.113.7")
    response = submit_form(
        client, f"{LOCAL_65}@example.com", "203.0.113.7", **{"Accept-Language": language}
    )
    assert response.status_code == 400
    assert message in email_error(response)
    assert count(app, DelistRequest) == 0


def test_a_local_part_of_64_characters_is_accepted(app, client):
    add_listings(app, "203.0.113.7")
    response = submit_form(client, f"{LOCAL_64}@example.com", "203.0.113.7")
    assert response.status_code == 200, page_text(response)[:300]
    assert count(app, DelistRequest) == 1


def test_the_report_form_refuses_it_too(app, client):
    response = send_report(client, email=f"{LOCAL_65}@example.com")
    assert response.status_code == 400
    assert "The part before the @ is too long" in page_text(response)
    assert count(app, AbuseReport) == 0
    assert send_report(client, email=f"{LOCAL_64}@example.com").status_code == 200


def test_a_quoted_local_part_is_measured_up_to_the_last_at_sign(app, client):
    add_listings(app, "203.0.113.7")
    quoted = '"' + "q@" * 32 + '"@example.com'  # 66 characters before the last @
    response = submit_form(client, quoted, "203.0.113.7")
    assert response.status_code == 400
    assert "The part before the @ is too long" in email_error(response)
