"""human_task.audience and sort_due: every inbox is one index range in deadline order

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
import engine.db.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The same rule as engine.access.task_audience, for rows written before this column existed.
AUDIENCE = """CASE
  WHEN lane IS NULL THEN 'user:' || started_by
  WHEN lane IN ('work_group', 'spot_check') AND candidate_group = 'office' THEN 'role:office'
  WHEN lane = 'work_group' AND candidate_group IS NOT NULL THEN 'group:' || candidate_group
  WHEN lane = 'spot_check' AND candidate_group IS NOT NULL THEN 'spotcheck:' || candidate_group
  WHEN lane = 'responsible_unit' AND candidate_unit IS NOT NULL THEN 'unit:' || candidate_unit
  WHEN lane IN ('office', 'discipline') THEN 'role:' || lane
  ELSE 'nobody' END"""


def upgrade() -> None:
    with op.batch_alter_table("human_task") as batch_op:
        batch_op.add_column(sa.Column("audience", sa.String(80), nullable=True))
        batch_op.add_column(sa.Column("sort_due", engine.db.base.UtcDateTime(), nullable=True))
    far = "TIMESTAMP '9999-12-31 00:00:00'" if op.get_bind().dialect.name == "postgresql" else "'9999-12-31 00:00:00.000000'"
    op.execute(f"UPDATE human_task SET audience = {AUDIENCE}, sort_due = COALESCE(due_at, {far})")
    with op.batch_alter_table("human_task") as batch_op:
        batch_op.alter_column("audience", existing_type=sa.String(80), nullable=False)
        batch_op.alter_column("sort_due", existing_type=engine.db.base.UtcDateTime(), nullable=False)
        batch_op.create_index("ix_human_task_inbox", ["audience", "sort_due", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("human_task") as batch_op:
        batch_op.drop_index("ix_human_task_inbox")
        batch_op.drop_column("sort_due")
        batch_op.drop_column("audience")
