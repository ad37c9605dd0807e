"""calendar_change.kind and from_campaign_id: carrying clues over to a new campaign in batches (issue 5)

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calendar_change") as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="calendar"))
        batch_op.add_column(sa.Column("from_campaign_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f("fk_calendar_change_from_campaign_id_campaign"), "campaign",
                                    ["from_campaign_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("calendar_change") as batch_op:
        batch_op.drop_constraint(op.f("fk_calendar_change_from_campaign_id_campaign"), type_="foreignkey")
        batch_op.drop_column("from_campaign_id")
        batch_op.drop_column("kind")
