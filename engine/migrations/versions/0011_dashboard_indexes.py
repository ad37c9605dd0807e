"""dashboard and ranking covering indexes; human_task(created_at); spot-check events (issue 6)

Revision ID: 0011
Revises: 0010
"""
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Every clue column a dashboard figure, the overview, the weekly trend or the ranking reads,
# after the scope's column (engine.stats.on_dashboard_index picks one per user).
DASHBOARD_COLUMNS = ["stage", "category", "source", "deadline", "light", "light_changes_at", "created_at",
                     "closed_at", "amount_owed", "amount_paid", "sendback_count", "listed_for_supervision", "referred"]


def upgrade() -> None:
    op.create_index("ix_clue_dashboard_group", "clue", ["work_group", "responsible_unit", *DASHBOARD_COLUMNS])
    op.create_index("ix_clue_dashboard_unit", "clue", ["responsible_unit", "work_group", *DASHBOARD_COLUMNS])
    op.create_index("ix_human_task_created_at", "human_task", ["created_at"])
    op.create_index("ix_instance_event_element_kind", "instance_event", ["element_id", "kind", "instance_id"])


def downgrade() -> None:
    op.drop_index("ix_instance_event_element_kind", "instance_event")
    op.drop_index("ix_human_task_created_at", "human_task")
    op.drop_index("ix_clue_dashboard_unit", "clue")
    op.drop_index("ix_clue_dashboard_group", "clue")
