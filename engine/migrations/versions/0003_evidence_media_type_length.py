"""evidence.media_type holds the long Office media types

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence") as batch_op:
        batch_op.alter_column("media_type", existing_type=sa.String(64), type_=sa.String(127), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch_op:
        batch_op.alter_column("media_type", existing_type=sa.String(127), type_=sa.String(64), existing_nullable=False)
