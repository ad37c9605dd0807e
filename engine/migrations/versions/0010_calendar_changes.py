"""calendar changes rescheduled in batches (issue 5)

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa
import engine.db.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("at", engine.db.base.UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(64), nullable=True),
        sa.Column("phases", sa.JSON(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("timers", sa.Integer(), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("finished_at", engine.db.base.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], name="fk_calendar_change_campaign_id_campaign"),
        sa.PrimaryKeyConstraint("id", name="pk_calendar_change"),
    )
    op.create_index("ix_calendar_change_campaign_id", "calendar_change", ["campaign_id"])
    op.create_index("ix_calendar_change_finished_at", "calendar_change", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_calendar_change_finished_at", "calendar_change")
    op.drop_index("ix_calendar_change_campaign_id", "calendar_change")
    op.drop_table("calendar_change")
