"""instance migrations between process versions, with undo (issue 4)

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa
import engine.db.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_migration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch", sa.String(32), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(64), nullable=False),
        sa.Column("from_definition_id", sa.Integer(), nullable=False),
        sa.Column("to_definition_id", sa.Integer(), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("before_state", sa.Text(), nullable=False),
        sa.Column("before_serializer_version", sa.String(16), nullable=False),
        sa.Column("after_state_hash", sa.String(128), nullable=False),
        sa.Column("after_history_count", sa.Integer(), nullable=False),
        sa.Column("tasks", sa.JSON(), nullable=True),
        sa.Column("migrated_by", sa.String(64), nullable=False),
        sa.Column("migrated_at", engine.db.base.UtcDateTime(), nullable=False),
        sa.Column("undone_by", sa.String(64), nullable=True),
        sa.Column("undone_at", engine.db.base.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"],
                                name="fk_instance_migration_instance_id_process_instance"),
        sa.ForeignKeyConstraint(["from_definition_id"], ["process_definition.id"],
                                name="fk_instance_migration_from_definition_id_process_definition"),
        sa.ForeignKeyConstraint(["to_definition_id"], ["process_definition.id"],
                                name="fk_instance_migration_to_definition_id_process_definition"),
        sa.PrimaryKeyConstraint("id", name="pk_instance_migration"),
    )
    op.create_index("ix_instance_migration_batch", "instance_migration", ["batch"], unique=False)
    op.create_index("ix_instance_migration_instance_id", "instance_migration", ["instance_id"], unique=False)
    op.create_index("ix_instance_migration_migrated_at", "instance_migration", ["migrated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_instance_migration_migrated_at", table_name="instance_migration")
    op.drop_index("ix_instance_migration_instance_id", table_name="instance_migration")
    op.drop_index("ix_instance_migration_batch", table_name="instance_migration")
    op.drop_table("instance_migration")
