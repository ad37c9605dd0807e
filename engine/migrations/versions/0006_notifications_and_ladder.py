"""notifications, e-mail outbox, daily digest, escalation ladder, supervision notices

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa
import engine.db.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(200), nullable=True))
    with op.batch_alter_table("clue") as batch_op:
        batch_op.add_column(sa.Column("listed_for_supervision", sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.create_index("ix_clue_listed_for_supervision", ["listed_for_supervision"], unique=False)

    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("clue_id", sa.Integer(), nullable=True),
        sa.Column("link", sa.String(200), nullable=True),
        sa.Column("created_at", engine.db.base.UtcDateTime(), nullable=False),
        sa.Column("read_at", engine.db.base.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["clue_id"], ["clue.id"], name="fk_notification_clue_id_clue"),
        sa.PrimaryKeyConstraint("id", name="pk_notification"),
    )
    op.create_index("ix_notification_username_id", "notification", ["username", "id"], unique=False)
    op.create_index("ix_notification_username_read_at", "notification", ["username", "read_at"], unique=False)

    op.create_table(
        "email_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("to_address", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", engine.db.base.UtcDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", engine.db.base.UtcDateTime(), nullable=True),
        sa.Column("sent_at", engine.db.base.UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_email_outbox"),
    )
    op.create_index("ix_email_outbox_next_attempt_at", "email_outbox", ["next_attempt_at"], unique=False)

    op.create_table(
        "digest_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent_at", engine.db.base.UtcDateTime(), nullable=False),
        sa.Column("task_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_digest_sent"),
        sa.UniqueConstraint("username", "day", name="uq_digest_sent_username"),
    )

    op.create_table(
        "ladder_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("at", engine.db.base.UtcDateTime(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("clue_id", sa.Integer(), nullable=True),
        sa.Column("due_at", engine.db.base.UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"],
                                name="fk_ladder_step_instance_id_process_instance"),
        sa.ForeignKeyConstraint(["clue_id"], ["clue.id"], name="fk_ladder_step_clue_id_clue"),
        sa.PrimaryKeyConstraint("id", name="pk_ladder_step"),
        sa.UniqueConstraint("task_id", "step", name="uq_ladder_step_task_id"),
    )
    op.create_index("ix_ladder_step_instance_id", "ladder_step", ["instance_id"], unique=False)

    op.create_table(
        "supervision_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clue_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("issued_at", engine.db.base.UtcDateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("responsible_unit", sa.String(64), nullable=True),
        sa.Column("work_group", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["clue_id"], ["clue.id"], name="fk_supervision_notice_clue_id_clue"),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"],
                                name="fk_supervision_notice_instance_id_process_instance"),
        sa.PrimaryKeyConstraint("id", name="pk_supervision_notice"),
    )
    op.create_index("ix_supervision_notice_clue_id", "supervision_notice", ["clue_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_supervision_notice_clue_id", table_name="supervision_notice")
    op.drop_table("supervision_notice")
    op.drop_index("ix_ladder_step_instance_id", table_name="ladder_step")
    op.drop_table("ladder_step")
    op.drop_table("digest_sent")
    op.drop_index("ix_email_outbox_next_attempt_at", table_name="email_outbox")
    op.drop_table("email_outbox")
    op.drop_index("ix_notification_username_read_at", table_name="notification")
    op.drop_index("ix_notification_username_id", table_name="notification")
    op.drop_table("notification")
    with op.batch_alter_table("clue") as batch_op:
        batch_op.drop_index("ix_clue_listed_for_supervision")
        batch_op.drop_column("listed_for_supervision")
    with op.batch_alter_table("app_user") as batch_op:
        batch_op.drop_column("email")
