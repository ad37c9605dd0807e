"""Engine configuration: one frozen object built by the caller; the engine never reads os.environ."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .notifications import SmtpSettings

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def default_database_url() -> str:
    return f"sqlite:///{PACKAGE_ROOT / 'instance' / 'chengxin.sqlite3'}"


@dataclass(frozen=True)
class EngineSettings:
    database_url: str = field(default_factory=default_database_url)
    processes_dir: Path = PACKAGE_ROOT / "processes"
    forms_dir: Path = PACKAGE_ROOT / "forms"
    # Hash for the history chain: SM3 (GB/T 32905) is what Chinese government systems are assessed on.
    history_hash: str = "sm3"
    script_time_limit: float = 1.0
    database_echo: bool = False
    evidence_dir: Path = PACKAGE_ROOT / "instance" / "evidence"
    evidence_max_bytes: int = 20 * 1024 * 1024
    # 等保 2.0 account rules
    password_min_length: int = 8
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    smtp: SmtpSettings | None = None  # e-mail is off without it (the demo)
