"""count unfinalised listings in one row kept by triggers, for the dashboard

Counting a million listings for every dashboard load took 0.1 to 0.2 s. Triggers on
`listing` keep the count for every write:

- SQLite: per row, updating the one row of `listing_totals` in place.
- PostgreSQL: once per statement, over its transition tables, so a COPY of a million
  rows costs one count. Each statement that changes the count appends the change to
  `listing_totals_change`; the worker folds the changes into `listing_totals`. Updating
  one row from every statement would make a transaction of many statements slow down
  with each one (every update leaves a row version the next must step over), and would
  make concurrent writers wait for each other. TRUNCATE sets the count to zero.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

POSTGRESQL = [
    """
    CREATE FUNCTION listing_totals_add(delta bigint) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        IF delta <> 0 THEN
            INSERT INTO listing_totals_change (change) VALUES (delta);
        END IF;
    END $$
    """,
    """
    CREATE FUNCTION listing_totals_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM listing_totals_add((SELECT count(*) FROM added WHERE removed_at IS NULL));
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION listing_totals_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM listing_totals_add(
            (SELECT count(*) FROM after_rows WHERE removed_at IS NULL)
            - (SELECT count(*) FROM before_rows WHERE removed_at IS NULL)
        );
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION listing_totals_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM listing_totals_add(-(SELECT count(*) FROM gone WHERE removed_at IS NULL));
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION listing_totals_emptied() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM listing_totals_change;
        INSERT INTO listing_totals (id, unfinalised) VALUES (1, 0)
        ON CONFLICT (id) DO UPDATE SET unfinalised = 0;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER listing_totals_insert AFTER INSERT ON listing
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION listing_totals_inserted()
    """,
    """
    CREATE TRIGGER listing_totals_update AFTER UPDATE ON listing
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION listing_totals_updated()
    """,
    """
    CREATE TRIGGER listing_totals_delete AFTER DELETE ON listing
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION listing_totals_deleted()
    """,
    """
    CREATE TRIGGER listing_totals_truncate AFTER TRUNCATE ON listing
    FOR EACH STATEMENT EXECUTE FUNCTION listing_totals_emptied()
    """,
]

SQLITE = [
    """
    CREATE TRIGGER listing_totals_insert AFTER INSERT ON listing
    WHEN NEW.removed_at IS NULL
    BEGIN
        UPDATE listing_totals SET unfinalised = unfinalised + 1 WHERE id = 1;
    END
    """,
    """
    CREATE TRIGGER listing_totals_update AFTER UPDATE OF removed_at ON listing
    WHEN (OLD.removed_at IS NULL) <> (NEW.removed_at IS NULL)
    BEGIN
        UPDATE listing_totals
        SET unfinalised = unfinalised + (CASE WHEN NEW.removed_at IS NULL THEN 1 ELSE -1 END)
        WHERE id = 1;
    END
    """,
    """
    CREATE TRIGGER listing_totals_delete AFTER DELETE ON listing
    WHEN OLD.removed_at IS NULL
    BEGIN
        UPDATE listing_totals SET unfinalised = unfinalised - 1 WHERE id = 1;
    END
    """,
]

TRIGGERS = ["insert", "update", "delete", "truncate"]
FUNCTIONS = ["emptied", "deleted", "updated", "inserted", "add(bigint)"]


def upgrade():
    op.create_table(
        "listing_totals",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("unfinalised", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_totals")),
    )
    op.create_table(
        "listing_totals_change",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("change", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_totals_change")),
    )
    op.execute(
        "INSERT INTO listing_totals (id, unfinalised)"
        " SELECT 1, count(*) FROM listing WHERE removed_at IS NULL"
    )
    for statement in POSTGRESQL if op.get_context().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade():
    postgresql = op.get_context().dialect.name == "postgresql"
    for name in TRIGGERS if postgresql else TRIGGERS[:3]:
        op.execute(f"DROP TRIGGER listing_totals_{name}" + (" ON listing" if postgresql else ""))
    if postgresql:
        for name in FUNCTIONS:
            op.execute(f"DROP FUNCTION listing_totals_{name}")
    op.drop_table("listing_totals_change")
    op.drop_table("listing_totals")
