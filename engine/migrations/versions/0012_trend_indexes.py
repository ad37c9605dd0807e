"""the weekly trend's range-count indexes: clue(created_at), clue(stage, closed_at) (issue 6)

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_clue_created_at", "clue", ["created_at"])
    op.create_index("ix_clue_stage_closed_at", "clue", ["stage", "closed_at"])


def downgrade() -> None:
    op.drop_index("ix_clue_stage_closed_at", "clue")
    op.drop_index("ix_clue_created_at", "clue")
