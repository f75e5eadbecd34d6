"""TEST_DATABASE_URL may name a database that does not exist yet: the tests create it."""

import os
import secrets

import pytest
import sqlalchemy as sa

from tests.helpers_database import server_engine

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL, reason="TEST_DATABASE_URL is not set")


def test_a_missing_test_database_is_created_and_used():
    name = f"delist_missing_{secrets.token_hex(4)}"
    url = sa.make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    engine = server_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT current_database()")) == name
    finally:
        engine.dispose()
        admin = server_engine(TEST_DATABASE_URL)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_an_existing_database_that_refuses_the_user_is_not_created_again():
    url = sa.make_url(TEST_DATABASE_URL).set(database="template0")  # exists, refuses connections
    with pytest.raises(sa.exc.OperationalError, match="template0"):
        server_engine(url.render_as_string(hide_password=False))
