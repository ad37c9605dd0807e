"""money is exact: amounts Numeric(16, 2) everywhere, and canonical strings in workflow data (issue 11, defect 6)

The clue and credit_record amounts were created Numeric(16, 2); a database whose columns are
something else (a hand-made or older schema with floats) has them converted here, value for
value. Workflow blobs held amounts as JSON numbers, which the engine now keeps as canonical
strings ("1280000.00"): each amount in a blob's task and workflow data that is a plain amount
(two decimals at most, within engine.money.MAX_AMOUNT) becomes its string, so an instance
reopened or migrated later reads the same value both ways. An amount that is not plausible
(1e20 stored by the old float intake) is left as it was, never rounded: the projection and the
ledger still read it, and the office can correct it by hand.

History events keep their numbers: each is hashed into its instance's chain, so rewriting one
would break `verify-history`; readers take either form (engine.money.of).

Revision ID: 0015
Revises: 0014
"""
import json
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

MONEY_COLUMNS = {"clue": ("amount_owed", "amount_paid"), "credit_record": ("amount_owed", "amount_paid")}
AMOUNT_KEYS = ("amount_owed", "amount_paid")
MAX_AMOUNT = Decimal("999999999999.99")  # engine.money.MAX_AMOUNT, copied: a migration never changes
BATCH = 200


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    for table, columns in MONEY_COLUMNS.items():
        kinds = {c["name"]: c["type"] for c in inspector.get_columns(table)}
        wrong = [c for c in columns if not (isinstance(kinds[c], sa.Numeric) and not isinstance(kinds[c], sa.Float)
                                            and kinds[c].scale == 2)]
        if wrong:
            with op.batch_alter_table(table) as batch_op:
                for column in wrong:
                    batch_op.alter_column(column, type_=sa.Numeric(16, 2), existing_nullable=True)
    instances = sa.table("process_instance", sa.column("id", sa.Integer), sa.column("state", sa.Text))
    last = 0
    while True:
        rows = bind.execute(sa.select(instances.c.id, instances.c.state).where(instances.c.id > last)
                            .order_by(instances.c.id).limit(BATCH)).all()
        if not rows:
            break
        for instance_id, state in rows:
            last = instance_id
            try:
                blob = json.loads(state)
            except (TypeError, ValueError):
                continue
            if _canonical_amounts(blob):
                bind.execute(instances.update().where(instances.c.id == instance_id).values(state=json.dumps(blob)))


def _canonical_amounts(value: Any) -> bool:
    """Rewrites amounts in place; whether anything changed."""
    changed = False
    if isinstance(value, dict):
        for key, item in value.items():
            if key in AMOUNT_KEYS and isinstance(item, (int, float)) and not isinstance(item, bool):
                text = _canonical(item)
                if text is not None:
                    value[key] = text
                    changed = True
            else:
                changed = _canonical_amounts(item) or changed
    elif isinstance(value, list):
        for item in value:
            changed = _canonical_amounts(item) or changed
    return changed


def _canonical(number: float) -> str | None:
    try:
        amount = Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        return None
    return f"{amount.quantize(Decimal('0.01')):f}"


def downgrade() -> None:
    # The strings are what the older code read as well (Decimal(str(value))); nothing to undo.
    pass
