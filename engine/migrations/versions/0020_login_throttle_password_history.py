"""login_throttle and password_history; app_user loses failed_logins and locked_until (issue 18 item 10)

Failed sign-ins are counted per address and per (account, address) instead of on the account, so
that nobody can lock another person out by typing their name; earlier password hashes are kept so
that a change cannot go back to one of them.

Revision ID: 0020
Revises: 0017 (rechain onto the latest revision when merging)
"""
from alembic import op
import sqlalchemy as sa
import engine.db.base

revision = "0020"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("remote_addr", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocks", sa.Integer(), nullable=False),
        sa.Column("window_started_at", engine.db.base.UtcDateTime(), nullable=False),
        sa.Column("last_failure_at", engine.db.base.UtcDateTime(), nullable=False),
        sa.Column("blocked_until", engine.db.base.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_login_throttle"),
        sa.UniqueConstraint("remote_addr", "username", name="uq_login_throttle_remote_addr"),
    )
    op.create_index("ix_login_throttle_username", "login_throttle", ["username"])
    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("replaced_at", engine.db.base.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name="fk_password_history_user_id_app_user",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_password_history"),
    )
    op.create_index("ix_password_history_user_id", "password_history", ["user_id"])
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_until", engine.db.base.UtcDateTime(), nullable=True))
    op.drop_index("ix_password_history_user_id", table_name="password_history")
    op.drop_table("password_history")
    op.drop_index("ix_login_throttle_username", table_name="login_throttle")
    op.drop_table("login_throttle")
