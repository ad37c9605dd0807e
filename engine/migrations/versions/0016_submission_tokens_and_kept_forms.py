"""submission_token (one clue per form instance or Idempotency-Key) and kept_form (typed work kept across a sign-in) (issue 11)

Revision ID: 0016
Revises: 0014 (to be rechained onto 0015 when that branch merges)
"""
from alembic import op
import sqlalchemy as sa
import engine.db.base

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submission_token",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("token", sa.String(100), nullable=False),
        sa.Column("form", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("used_at", engine.db.base.UtcDateTime(), nullable=False),
        sa.Column("clue_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["clue_id"], ["clue.id"], name="fk_submission_token_clue_id_clue"),
        sa.PrimaryKeyConstraint("username", "token", name="pk_submission_token"),
    )
    op.create_index("ix_submission_token_used_at", "submission_token", ["used_at"])
    op.create_table(
        "kept_form",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", engine.db.base.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_kept_form"),
    )
    op.create_index("ix_kept_form_created_at", "kept_form", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_kept_form_created_at", "kept_form")
    op.drop_table("kept_form")
    op.drop_index("ix_submission_token_used_at", "submission_token")
    op.drop_table("submission_token")
