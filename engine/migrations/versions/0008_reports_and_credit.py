"""referral receipts and government credit records (issue 6)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa
import engine.db.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referral_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clue_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("received_by", sa.String(64), nullable=False),
        sa.Column("received_at", engine.db.base.UtcDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("history_head_before", sa.String(128), nullable=True),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("event_hash", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(["clue_id"], ["clue.id"], name="fk_referral_receipt_clue_id_clue"),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"],
                                name="fk_referral_receipt_instance_id_process_instance"),
        sa.PrimaryKeyConstraint("id", name="pk_referral_receipt"),
        sa.UniqueConstraint("clue_id", name="uq_referral_receipt_clue_id"),
    )
    op.create_index("ix_referral_receipt_received_at", "referral_receipt", ["received_at"], unique=False)

    op.create_table(
        "credit_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clue_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("subject_name", sa.String(200), nullable=False),
        sa.Column("enterprise_name", sa.String(200), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=True),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("responsible_unit", sa.String(64), nullable=True),
        sa.Column("work_group", sa.String(64), nullable=True),
        sa.Column("basis", sa.String(64), nullable=False),
        sa.Column("spot_check_result", sa.String(64), nullable=True),
        sa.Column("finding", sa.Text(), nullable=True),
        sa.Column("amount_owed", sa.Numeric(16, 2), nullable=True),
        sa.Column("amount_paid", sa.Numeric(16, 2), nullable=True),
        sa.Column("confirmed_at", engine.db.base.UtcDateTime(), nullable=False),
        sa.Column("confirmed_by", sa.String(64), nullable=False),
        sa.Column("source_task_id", sa.String(36), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=True),
        sa.Column("created_at", engine.db.base.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["clue_id"], ["clue.id"], name="fk_credit_record_clue_id_clue"),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"],
                                name="fk_credit_record_instance_id_process_instance"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], name="fk_credit_record_campaign_id_campaign"),
        sa.PrimaryKeyConstraint("id", name="pk_credit_record"),
        sa.UniqueConstraint("clue_id", "source_task_id", name="uq_credit_record_clue_id"),
    )
    op.create_index("ix_credit_record_clue_id", "credit_record", ["clue_id"], unique=False)
    op.create_index("ix_credit_record_campaign_id", "credit_record", ["campaign_id"], unique=False)
    op.create_index("ix_credit_record_subject_name", "credit_record", ["subject_name"], unique=False)
    op.create_index("ix_credit_record_category", "credit_record", ["category"], unique=False)
    op.create_index("ix_credit_record_responsible_unit", "credit_record", ["responsible_unit"], unique=False)
    op.create_index("ix_credit_record_basis", "credit_record", ["basis"], unique=False)
    op.create_index("ix_credit_record_confirmed_at_id", "credit_record", ["confirmed_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("credit_record")
    op.drop_table("referral_receipt")
