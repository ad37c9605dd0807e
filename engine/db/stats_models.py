"""Indexes of the dashboard's weekly trend (issue 6; migration 0012).

The office's unfiltered trend counts the clues registered, and closed (销号), in each week as
range counts over two narrow indexes (engine.stats.weekly_trend on SQLite): a few entries a
clue instead of a full scan of the covering index with a date computed per row.
"""
from __future__ import annotations

from sqlalchemy import Index

from .models import Clue

Index("ix_clue_created_at", Clue.created_at)
Index("ix_clue_stage_closed_at", Clue.stage, Clue.closed_at)
