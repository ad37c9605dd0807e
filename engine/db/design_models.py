"""Tables for the designer: form definitions and drafts (issue 4; migration 0009)."""
from __future__ import annotations

from .base import Base  # noqa: F401
