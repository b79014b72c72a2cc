"""rollups: readings summed per meter and 15-minute bucket; how far retention has gone (issue 9)

Revision ID: i9_rollups
Revises: i4_alerts

The rollup of the readings already stored is built here, in SQL, so an existing database answers
from its rollups as soon as it is upgraded (minutes for tens of millions of readings).
"""

from alembic import op
import sqlalchemy as sa


revision = "i9_rollups"
down_revision = "i4_alerts"
branch_labels = None
depends_on = None

BUCKET_MS = 900_000


def upgrade() -> None:
    op.create_table(
        "reading_intervals",
        sa.Column("meter_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("readings", sa.Integer(), nullable=False),
        sa.Column("first_ts", sa.BigInteger(), nullable=False),
        sa.Column("first_wh", sa.BigInteger(), nullable=False),
        sa.Column("last_ts", sa.BigInteger(), nullable=False),
        sa.Column("last_wh", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("meter_id", "start"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("meter_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pruned_to", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("pruned_readings", sa.BigInteger(), nullable=False, server_default="0"))
    bucket = f"(ts - ts % {BUCKET_MS})"
    op.execute(
        "INSERT INTO reading_intervals (meter_id, start, readings, first_ts, first_wh, last_ts, last_wh) "
        f"SELECT g.meter_id, g.start, g.readings, g.first_ts, f.wh, g.last_ts, l.wh FROM "
        f"(SELECT meter_id, {bucket} AS start, count(*) AS readings, min(ts) AS first_ts, max(ts) AS last_ts "
        f" FROM readings GROUP BY meter_id, {bucket}) g "
        "JOIN readings f ON f.meter_id = g.meter_id AND f.ts = g.first_ts "
        "JOIN readings l ON l.meter_id = g.meter_id AND l.ts = g.last_ts"
    )


def downgrade() -> None:
    with op.batch_alter_table("meter_state", schema=None) as batch_op:
        batch_op.drop_column("pruned_readings")
        batch_op.drop_column("pruned_to")
    op.drop_table("reading_intervals")
