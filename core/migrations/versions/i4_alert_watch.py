"""alert watch: per-meter state of the early-warning rules (issue 4)

Revision ID: i4_alerts
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = "i4_alerts"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_watch",
        sa.Column("meter_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=True),
        sa.Column("silent", sa.Boolean(), nullable=False),
        sa.Column("day_end", sa.BigInteger(), nullable=True),
        sa.Column("daily_at", sa.String(length=40), nullable=True),
        sa.Column("proj_since", sa.BigInteger(), nullable=True),
        sa.Column("proj_end", sa.BigInteger(), nullable=True),
        sa.Column("proj_after", sa.BigInteger(), nullable=True),
        sa.Column("proj_start_wh", sa.String(length=40), nullable=True),
        sa.Column("proj_target_wh", sa.String(length=40), nullable=True),
        sa.Column("power_scan_to", sa.BigInteger(), nullable=True),
        sa.Column("power_run_start", sa.BigInteger(), nullable=True),
        sa.Column("power_limit_w", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("meter_id"),
    )
    with op.batch_alter_table("alert_watch", schema=None) as batch_op:
        batch_op.create_index("ix_alert_watch_received", ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alert_watch", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_watch_received")
    op.drop_table("alert_watch")
