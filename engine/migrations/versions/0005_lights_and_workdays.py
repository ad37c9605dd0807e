"""stored, indexed lights on clue and human_task; campaign.yellow_working_days

Revision ID: 0005
Revises: 0004
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
import engine.db.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 1000
TABLES = ("clue", "human_task")


def upgrade() -> None:
    with op.batch_alter_table("campaign") as batch_op:
        batch_op.add_column(sa.Column("yellow_working_days", sa.Integer(), server_default="3", nullable=False))
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("light", sa.String(8), nullable=True))
            batch_op.add_column(sa.Column("light_changes_at", engine.db.base.UtcDateTime(), nullable=True))
            batch_op.create_index(f"ix_{table}_light", ["light"], unique=False)
            batch_op.create_index(f"ix_{table}_light_changes_at", ["light_changes_at"], unique=False)
    _backfill(op.get_bind())


def _backfill(bind: sa.engine.Connection) -> None:
    """Every open clue's and READY task's light as of now (the real clock), by the rule in
    engine.lights. Every campaign has the default threshold at this point (3 working days)."""
    from engine.lights import CLOSED_STAGES, DEFAULT_YELLOW_WORKING_DAYS, for_clue, for_task

    now = datetime.now(timezone.utc)
    utc = engine.db.base.UtcDateTime()
    clue = sa.table("clue", sa.column("id", sa.Integer()), sa.column("stage", sa.String()),
                    sa.column("deadline", sa.Date()), sa.column("light", sa.String()),
                    sa.column("light_changes_at", utc))
    task = sa.table("human_task", sa.column("id", sa.String()), sa.column("due_at", utc),
                    sa.column("light", sa.String()), sa.column("light_changes_at", utc))

    def write(table: sa.TableClause, rows: list[dict]) -> None:
        if rows:
            bind.execute(table.update().where(table.c.id == sa.bindparam("_id"))
                         .values(light=sa.bindparam("_light"), light_changes_at=sa.bindparam("_changes")), rows)

    def row(key: object, light: object) -> dict:
        return {"_id": key, "_light": light.value, "_changes": light.changes_at}  # type: ignore[attr-defined]

    last_id = 0
    while True:
        page = bind.execute(sa.select(clue.c.id, clue.c.stage, clue.c.deadline)
                            .where(clue.c.id > last_id, clue.c.stage.not_in(CLOSED_STAGES))
                            .order_by(clue.c.id).limit(BATCH)).all()
        if not page:
            break
        write(clue, [row(r.id, for_clue(r.stage, r.deadline, now, DEFAULT_YELLOW_WORKING_DAYS)) for r in page])
        last_id = page[-1].id
    last_key = ""
    while True:
        page = bind.execute(sa.select(task.c.id, task.c.due_at)
                            .where(task.c.id > last_key, task.c.due_at.is_not(None))
                            .order_by(task.c.id).limit(BATCH)).all()
        if not page:
            break
        write(task, [row(r.id, for_task(r.due_at, now, DEFAULT_YELLOW_WORKING_DAYS)) for r in page])
        last_key = page[-1].id


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(f"ix_{table}_light_changes_at")
            batch_op.drop_index(f"ix_{table}_light")
            batch_op.drop_column("light_changes_at")
            batch_op.drop_column("light")
    with op.batch_alter_table("campaign") as batch_op:
        batch_op.drop_column("yellow_working_days")
