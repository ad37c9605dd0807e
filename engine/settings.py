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
    password_min_score: int = 3  # zxcvbn's 0-4: 3 is "safely unguessable" against a slow hash
    password_history: int = 5  # a new password may not be the current one or one of this many before it
    # Sign-in throttling (engine.login_throttle): an account from one address is blocked after
    # max_failed_logins failures, first for login_first_block_minutes, each next block twice as long up
    # to lockout_minutes; one address is blocked for lockout_minutes after login_ip_max_failures
    # failures within login_ip_window_minutes, whatever names it tries.
    max_failed_logins: int = 5
    login_first_block_minutes: int = 1
    lockout_minutes: int = 15
    login_ip_max_failures: int = 50
    login_ip_window_minutes: int = 15
    smtp: SmtpSettings | None = None  # e-mail is off without it (the demo)
