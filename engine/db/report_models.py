"""Tables for referral receipts and government credit records (issue 6; migration 0008)."""
from __future__ import annotations

from .base import Base  # noqa: F401
