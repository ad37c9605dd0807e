"""app_user.large_text: the 大字模式 switch (适老化), kept with the account (issue 22)

Revision ID: 0022
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("large_text", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("large_text")
