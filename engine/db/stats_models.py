"""Indexes of the dashboard's weekly trend and charts (issue 6; migrations 0012 and 0013).

The office's unfiltered trend counts the clues registered, and closed (销号), in each week as
range counts over two narrow indexes (engine.stats.weekly_trend on SQLite): a few entries a
clue instead of a full scan of the covering index with a date computed per row.

The category, source and stage indexes (which the ledger's filters use) carry the two amounts,
so the office's unfiltered chart by one of them is an ordered scan of a narrow index
(engine.stats.figures on SQLite) instead of a scan and a sort of the wide covering index.
"""
from __future__ import annotations

from sqlalchemy import Index

from .models import Clue

Index("ix_clue_created_at", Clue.created_at)
Index("ix_clue_stage_closed_at", Clue.stage, Clue.closed_at)
MONEY_INDEXES = {key: f"ix_clue_{key}_money" for key in ("category", "source", "stage")}
for _key, _name in MONEY_INDEXES.items():
    Index(_name, getattr(Clue, _key), Clue.amount_owed, Clue.amount_paid)
