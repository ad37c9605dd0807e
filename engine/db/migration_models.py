"""Tables for instance migrations between process versions (issue 4; migration 0007)."""
from __future__ import annotations

from .base import Base  # noqa: F401
