"""designer: form drafts, and an index for counting instances per version and status (issue 4)

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa
import engine.db.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("saved_by", sa.String(64), nullable=False),
        sa.Column("saved_at", engine.db.base.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_form_draft"),
        sa.UniqueConstraint("key", "version", name="uq_form_draft_key"),
    )
    op.create_index("ix_form_draft_key", "form_draft", ["key"], unique=False)
    op.create_index("ix_process_instance_definition_id_status", "process_instance", ["definition_id", "status"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_process_instance_definition_id_status", table_name="process_instance")
    op.drop_index("ix_form_draft_key", table_name="form_draft")
    op.drop_table("form_draft")
