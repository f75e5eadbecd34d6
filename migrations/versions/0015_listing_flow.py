"""listings added and removed per day, kept by triggers, for the dashboard's charts

The dashboard charts 30 days of listings added (by source) and removed (by who). A bulk
import can add a million listings in one day, and counting them on every load took as
long as the count that 0007 replaced, so triggers on `listing` keep the figures per UTC
day, the way 0007 keeps the count of unfinalised listings:

- SQLite: per row, adding to the day's row of `listing_flow` in place.
- PostgreSQL: once per statement, over its transition tables, appending the statement's
  changes (grouped) to `listing_flow_change`; the worker folds them into `listing_flow`.

Every change of `listed_at`, `source`, `removed_at` or `removed_by` takes the row's old
contribution off and adds its new one, so `listing_flow` always equals a GROUP BY over
`listing`. It also indexes requests by submission time, which their charts read.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UNKNOWN = "'unknown'"  # who removed a listing whose `removed_by` is empty

# One listing's contribution, as (day, kind, party) rows, from a row source `t` (PostgreSQL).
PG_FLOW = f"""
    SELECT (listed_at AT TIME ZONE 'UTC')::date AS day, 'added' AS kind, source AS party,
           {{sign}} AS change FROM {{table}}
    UNION ALL
    SELECT (removed_at AT TIME ZONE 'UTC')::date, 'removed', coalesce(removed_by, {UNKNOWN}),
           {{sign}} FROM {{table}} WHERE removed_at IS NOT NULL
"""


def _pg_append(*parts: tuple[str, str]) -> str:
    flows = " UNION ALL ".join(PG_FLOW.format(table=table, sign=sign) for table, sign in parts)
    return (
        "INSERT INTO listing_flow_change (day, kind, party, change)"
        f" SELECT day, kind, party, sum(change) FROM ({flows}) AS flow"
        " GROUP BY day, kind, party HAVING sum(change) <> 0"
    )


def _pg_function(name: str, body: str) -> str:
    return f"""
    CREATE FUNCTION listing_flow_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {body};
        RETURN NULL;
    END $$
    """


POSTGRESQL = [
    _pg_function("inserted", _pg_append(("added", "1"))),
    _pg_function("updated", _pg_append(("after_rows", "1"), ("before_rows", "-1"))),
    _pg_function("deleted", _pg_append(("gone", "-1"))),
    _pg_function("emptied", "DELETE FROM listing_flow_change; DELETE FROM listing_flow"),
    """
    CREATE TRIGGER listing_flow_insert AFTER INSERT ON listing
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION listing_flow_inserted()
    """,
    """
    CREATE TRIGGER listing_flow_update AFTER UPDATE ON listing
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION listing_flow_updated()
    """,
    """
    CREATE TRIGGER listing_flow_delete AFTER DELETE ON listing
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION listing_flow_deleted()
    """,
    """
    CREATE TRIGGER listing_flow_truncate AFTER TRUNCATE ON listing
    FOR EACH STATEMENT EXECUTE FUNCTION listing_flow_emptied()
    """,
]


def _sqlite_add(row: str, sign: str) -> str:
    """Add `sign` to the days of one row (`NEW` or `OLD`): its listing, and its removal."""
    return f"""
        INSERT INTO listing_flow (day, kind, party, listings)
        VALUES (date({row}.listed_at), 'added', {row}.source, {sign})
        ON CONFLICT (day, kind, party) DO UPDATE SET listings = listings + {sign};
        INSERT INTO listing_flow (day, kind, party, listings)
        SELECT date({row}.removed_at), 'removed', coalesce({row}.removed_by, {UNKNOWN}), {sign}
        WHERE {row}.removed_at IS NOT NULL
        ON CONFLICT (day, kind, party) DO UPDATE SET listings = listings + {sign};
    """


FLOW_COLUMNS = ("listed_at", "source", "removed_at", "removed_by")
CHANGED = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in FLOW_COLUMNS)

SQLITE = [
    f"CREATE TRIGGER listing_flow_insert AFTER INSERT ON listing BEGIN {_sqlite_add('NEW', '1')} END",
    f"""
    CREATE TRIGGER listing_flow_update AFTER UPDATE OF {", ".join(FLOW_COLUMNS)} ON listing
    WHEN {CHANGED}
    BEGIN {_sqlite_add("OLD", "-1")} {_sqlite_add("NEW", "1")} END
    """,
    f"CREATE TRIGGER listing_flow_delete AFTER DELETE ON listing BEGIN {_sqlite_add('OLD', '-1')} END",
]

BACKFILL = {
    "postgresql": "INSERT INTO listing_flow (day, kind, party, listings)"
    " SELECT day, kind, party, sum(change) FROM ({flows}) AS flow GROUP BY day, kind, party".format(
        flows=PG_FLOW.format(table="listing", sign="1")
    ),
    "sqlite": "INSERT INTO listing_flow (day, kind, party, listings)"
    " SELECT day, kind, party, count(*) FROM ("
    " SELECT date(listed_at) AS day, 'added' AS kind, source AS party FROM listing"
    " UNION ALL SELECT date(removed_at), 'removed', coalesce(removed_by, 'unknown')"
    " FROM listing WHERE removed_at IS NOT NULL) AS flow GROUP BY day, kind, party",
}

TRIGGERS = ["insert", "update", "delete", "truncate"]
FUNCTIONS = ["emptied", "deleted", "updated", "inserted"]


def upgrade():
    op.create_table(
        "listing_flow",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("party", sa.String(length=254), nullable=False),
        sa.Column("listings", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "kind", "party", name=op.f("pk_listing_flow")),
    )
    op.create_table(
        "listing_flow_change",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("party", sa.String(length=254), nullable=False),
        sa.Column("change", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_flow_change")),
    )
    op.create_index(
        "ix_delist_request_created_at", "delist_request", ["created_at"], unique=False
    )
    dialect = op.get_context().dialect.name
    op.execute(BACKFILL[dialect])
    for statement in POSTGRESQL if dialect == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade():
    postgresql = op.get_context().dialect.name == "postgresql"
    for name in TRIGGERS if postgresql else TRIGGERS[:3]:
        op.execute(f"DROP TRIGGER listing_flow_{name}" + (" ON listing" if postgresql else ""))
    if postgresql:
        for name in FUNCTIONS:
            op.execute(f"DROP FUNCTION listing_flow_{name}")
    op.drop_index("ix_delist_request_created_at", table_name="delist_request")
    op.drop_table("listing_flow_change")
    op.drop_table("listing_flow")
