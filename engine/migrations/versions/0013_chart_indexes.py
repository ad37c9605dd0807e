"""the category, source and stage indexes carry the amounts, for the office's charts (issue 6)

Each single-column index becomes (key, amount_owed, amount_paid): it serves the ledger's
filters as before, and the office's unfiltered chart by that key becomes one ordered scan of
a narrow index (no sort, no row fetch). The number of indexes on clue stays the same.

Revision ID: 0013
Revises: 0012
"""
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

KEYS = ("category", "source", "stage")


def upgrade() -> None:
    for key in KEYS:
        op.drop_index(f"ix_clue_{key}", "clue")
        op.create_index(f"ix_clue_{key}_money", "clue", [key, "amount_owed", "amount_paid"])


def downgrade() -> None:
    for key in KEYS:
        op.drop_index(f"ix_clue_{key}_money", "clue")
        op.create_index(f"ix_clue_{key}", "clue", [key])
