"""Tables. The serialized workflow is the truth; every other column is a projection of it
written in the same transaction (ARCHITECTURE.md)."""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Code, Money, Text200, Utc


class Role(str, enum.Enum):
    office = "office"
    group = "group"
    unit = "unit"
    spotcheck = "spotcheck"
    discipline = "discipline"
    designer = "designer"
    supervisor = "supervisor"
    admin = "admin"


class InstanceStatus(str, enum.Enum):
    running = "running"      # a person must act
    waiting = "waiting"      # only timers are pending
    completed = "completed"
    error = "error"
    suspended = "suspended"
    terminated = "terminated"


# The statuses whose timers fire. A suspended or failed instance's timers wait (they fire once it
# is resumed or retried); a finished instance has none.
TIMER_STATUSES = (InstanceStatus.running, InstanceStatus.waiting)


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, validate_strings=True)


class OrgUnit(Base):
    __tablename__ = "org_unit"
    code: Mapped[Code] = mapped_column(primary_key=True)
    name: Mapped[Text200]
    kind: Mapped[str] = mapped_column(String(20))  # county | department


class WorkGroup(Base):
    __tablename__ = "work_group"
    code: Mapped[Code] = mapped_column(primary_key=True)
    name: Mapped[Text200]
    host_unit: Mapped[Optional[Code]] = mapped_column(ForeignKey("org_unit.code"))


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[Code] = mapped_column(unique=True)
    display_name: Mapped[Text200]
    role: Mapped[Role] = mapped_column(_enum(Role))
    unit_code: Mapped[Optional[Code]] = mapped_column(ForeignKey("org_unit.code"))
    group_code: Mapped[Optional[Code]] = mapped_column(ForeignKey("work_group.code"))
    password_hash: Mapped[Optional[str]] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[Utc]
    password_changed_at: Mapped[Optional[Utc]]
    last_login_at: Mapped[Optional[Utc]]
    # A session is valid only while it carries this number: bumping it ends every session at once
    # (sessions are signed cookies, so the server cannot delete them one by one).
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    # 大字模式 (适老化): larger text and stronger contrast on every page, kept with the account so
    # that it follows the user to another browser and survives signing in again.
    large_text: Mapped[bool] = mapped_column(default=False, server_default=sa_false())


class Campaign(Base):
    """One year's campaign and its calendar (DOMAIN.md, 实施步骤); phase ends are inclusive days."""

    __tablename__ = "campaign"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[Text200]
    year: Mapped[int]
    starts_on: Mapped[date]
    investigation_ends_on: Mapped[date]
    rectification_ends_on: Mapped[date]
    spot_check_starts_on: Mapped[date]
    spot_check_ends_on: Mapped[date]
    ends_on: Mapped[date]
    spot_check_rate: Mapped[float]
    max_sendbacks: Mapped[int]
    # Lights turn yellow once this many working days (or fewer) are left before a deadline.
    yellow_working_days: Mapped[int] = mapped_column(default=3, server_default="3")
    is_current: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[Utc]


class ProcessDefinition(Base):
    """One deployed version of one executable process, with the files it was parsed from."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("process_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[Code] = mapped_column(index=True)
    name: Mapped[Text200]
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(128))
    hash_alg: Mapped[str] = mapped_column(String(16))
    deployed_by: Mapped[Code]
    deployed_at: Mapped[Utc]
    files: Mapped[list[DefinitionFile]] = relationship(
        back_populates="definition", order_by="DefinitionFile.id", cascade="all, delete-orphan"
    )


class DefinitionFile(Base):
    __tablename__ = "definition_file"
    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # bpmn | dmn
    filename: Mapped[Text200]
    content: Mapped[str] = mapped_column(Text)
    definition: Mapped[ProcessDefinition] = relationship(back_populates="files")


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_id: Mapped[Code] = mapped_column(index=True)
    business_key: Mapped[Optional[Code]] = mapped_column(index=True)
    status: Mapped[InstanceStatus] = mapped_column(_enum(InstanceStatus), index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    serializer_version: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(Text)
    next_timer_at: Mapped[Optional[Utc]] = mapped_column(index=True)
    error_message: Mapped[Optional[str]] = mapped_column(Text)
    error_element: Mapped[Optional[Code]]
    started_by: Mapped[Code]
    created_at: Mapped[Utc]
    updated_at: Mapped[Utc]
    completed_at: Mapped[Optional[Utc]]
    history_count: Mapped[int] = mapped_column(default=0)
    history_head: Mapped[Optional[str]] = mapped_column(String(128))
    definition: Mapped[ProcessDefinition] = relationship()

    __mapper_args__ = {"version_id_col": version}


class HumanTask(Base):
    """One row per READY user task: what inboxes query, never the workflow blob."""

    __tablename__ = "human_task"
    # Every inbox is one range of this index, already in deadline order.
    __table_args__ = (Index("ix_human_task_inbox", "audience", "sort_due", "id"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow task UUID
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    clue_id: Mapped[Optional[int]] = mapped_column(ForeignKey("clue.id"), index=True)
    spec_name: Mapped[Code]
    title: Mapped[Text200]
    lane: Mapped[Optional[Code]]
    form_key: Mapped[Optional[Code]]
    stage: Mapped[Optional[Code]]
    candidate_unit: Mapped[Optional[Code]] = mapped_column(index=True)
    candidate_group: Mapped[Optional[Code]] = mapped_column(index=True)
    started_by: Mapped[Optional[Code]]
    due_at: Mapped[Optional[Utc]] = mapped_column(index=True)
    audience: Mapped[str] = mapped_column(String(80))  # access.task_audience
    sort_due: Mapped[Utc]  # due_at, or far in the future when there is none
    claimed_by: Mapped[Optional[Code]]
    created_at: Mapped[Utc]
    # engine.lights: the stored light and the next moment it changes by itself (swept).
    light: Mapped[Optional[str]] = mapped_column(String(8), index=True)
    light_changes_at: Mapped[Optional[Utc]] = mapped_column(index=True)


class Clue(Base):
    """The business record of one problem clue; ledger, filters and exports read only this."""

    __tablename__ = "clue"
    __table_args__ = (Index("ix_clue_enterprise_debtor", "enterprise_name", "debtor"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[Optional[int]] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    source: Mapped[Code]
    enterprise_name: Mapped[Text200]
    uscc: Mapped[Optional[str]] = mapped_column(String(18), index=True)
    debtor: Mapped[Text200]
    summary: Mapped[str] = mapped_column(Text)
    amount_owed: Mapped[Optional[Money]]
    amount_paid: Mapped[Optional[Money]]
    complainant_name: Mapped[Optional[Text200]]
    complainant_phone: Mapped[Optional[Code]]
    county: Mapped[Optional[Text200]]
    category: Mapped[Optional[Code]]
    level: Mapped[Optional[Code]]
    key_problem: Mapped[bool] = mapped_column(default=False)
    work_group: Mapped[Optional[Code]] = mapped_column(index=True)
    lead_units: Mapped[Optional[list[Any]]]
    responsible_unit: Mapped[Optional[Code]] = mapped_column(index=True)
    deadline: Mapped[Optional[date]] = mapped_column(index=True)
    stage: Mapped[Code]
    referred: Mapped[bool] = mapped_column(default=False)
    sendback_count: Mapped[int] = mapped_column(default=0)
    spot_check_selected: Mapped[Optional[bool]]
    spot_check_result: Mapped[Optional[Code]]
    created_by: Mapped[Code]
    created_at: Mapped[Utc]
    updated_at: Mapped[Utc]
    closed_at: Mapped[Optional[Utc]]
    # engine.lights: the stored light and the next moment it changes by itself (swept).
    light: Mapped[Optional[str]] = mapped_column(String(8), index=True)
    light_changes_at: Mapped[Optional[Utc]] = mapped_column(index=True)


class SecurityEvent(Base):
    """Logins, logouts, refusals and administrative changes (等保 2.0 security audit)."""

    __tablename__ = "security_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[Utc] = mapped_column(index=True)
    actor: Mapped[Code] = mapped_column(index=True)
    kind: Mapped[Code] = mapped_column(index=True)
    target: Mapped[Optional[Text200]]
    remote_addr: Mapped[Optional[Code]]
    detail: Mapped[Optional[dict[str, Any]]]


class LoginThrottle(Base):
    """Failed sign-ins counted per address (`username` "") and per account from one address.

    Kept in the database, not in a process, because several web processes share one login form.
    """

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("remote_addr", "username"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    remote_addr: Mapped[Code]
    username: Mapped[Code] = mapped_column(index=True)
    failures: Mapped[int] = mapped_column(default=0)
    blocks: Mapped[int] = mapped_column(default=0)  # blocks so far: each one lasts longer
    window_started_at: Mapped[Utc]
    last_failure_at: Mapped[Utc]
    blocked_until: Mapped[Optional[Utc]]


class PasswordHistory(Base):
    """Hashes of an account's earlier passwords, so that a change cannot go back to one of them."""

    __tablename__ = "password_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    replaced_at: Mapped[Utc]


class ApiToken(Base):
    """A bearer token for the REST API; only its hash is stored."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[Text200]
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[Utc]
    last_used_at: Mapped[Optional[Utc]]
    revoked_at: Mapped[Optional[Utc]]


class Evidence(Base):
    """An attachment of a clue (contract, payment voucher, photo); the bytes live on disk."""

    __tablename__ = "evidence"
    id: Mapped[int] = mapped_column(primary_key=True)
    clue_id: Mapped[int] = mapped_column(ForeignKey("clue.id"), index=True)
    task_id: Mapped[Optional[str]] = mapped_column(String(36))
    stage: Mapped[Optional[Code]]
    filename: Mapped[Text200]
    media_type: Mapped[str] = mapped_column(String(127))  # RFC 6838 allows 127
    size: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(128))
    hash_alg: Mapped[str] = mapped_column(String(16))
    storage_key: Mapped[Text200]
    uploaded_by: Mapped[Code]
    uploaded_at: Mapped[Utc]


class InstanceEvent(Base):
    """Append-only history; each row's hash covers the previous row's hash (per instance)."""

    __tablename__ = "instance_event"
    __table_args__ = (UniqueConstraint("instance_id", "seq"), Index("ix_instance_event_actor_at", "actor", "at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    seq: Mapped[int]
    at: Mapped[Utc]
    actor: Mapped[Code]
    actor_role: Mapped[Optional[Code]]
    kind: Mapped[Code] = mapped_column(index=True)
    task_id: Mapped[Optional[str]] = mapped_column(String(36), index=True)
    element_id: Mapped[Optional[Code]]
    element_name: Mapped[Optional[Text200]]
    data: Mapped[Optional[dict[str, Any]]]
    hash_alg: Mapped[str] = mapped_column(String(16))
    prev_hash: Mapped[Optional[str]] = mapped_column(String(128))
    hash: Mapped[str] = mapped_column(String(128))


# --- Notifications, e-mail and the escalation ladder (issue 5; migration 0006) -----------------
# Columns on tables declared above are added here, after their classes, so that this block
# stays in one place at the end of the file.
from sqlalchemy import Boolean, false  # noqa: E402

User.email = mapped_column(String(200), nullable=True)  # type: ignore[attr-defined]
Clue.listed_for_supervision = mapped_column(  # type: ignore[attr-defined]
    Boolean, default=False, server_default=false(), nullable=False, index=True)  # 挂牌督办


class Notification(Base):
    """One in-app message to one user (the bell); e-mail copies go through email_outbox."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_username_id", "username", "id"),
                      Index("ix_notification_username_read_at", "username", "read_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[Code]
    kind: Mapped[Code]
    title: Mapped[Text200]
    body: Mapped[str] = mapped_column(Text, default="")
    clue_id: Mapped[Optional[int]] = mapped_column(ForeignKey("clue.id"))
    link: Mapped[Optional[Text200]]
    created_at: Mapped[Utc]
    read_at: Mapped[Optional[Utc]]


class EmailOutbox(Base):
    """An e-mail waiting to be sent; the sender retries with backoff and never blocks the engine."""

    __tablename__ = "email_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[Optional[Code]]
    to_address: Mapped[Text200]
    subject: Mapped[Text200]
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[Utc]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[Optional[Utc]] = mapped_column(index=True)  # NULL once sent or given up
    sent_at: Mapped[Optional[Utc]]
    last_error: Mapped[Optional[str]] = mapped_column(Text)


class DigestSent(Base):
    """The daily digest a user was sent, so that it goes out once per day."""

    __tablename__ = "digest_sent"
    __table_args__ = (UniqueConstraint("username", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[Code]
    day: Mapped[date]
    sent_at: Mapped[Utc]
    task_count: Mapped[int]


class LadderStep(Base):
    """One step of the reminder and escalation ladder taken for one READY task (once each)."""

    __tablename__ = "ladder_step"
    __table_args__ = (UniqueConstraint("task_id", "step"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36))
    step: Mapped[Code]
    at: Mapped[Utc]
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    clue_id: Mapped[Optional[int]] = mapped_column(ForeignKey("clue.id"))
    due_at: Mapped[Utc]
    # process: the diagram's own boundary timer did it; skipped: nobody to send it to.
    outcome: Mapped[Code]
    recipients: Mapped[int] = mapped_column(default=0)


class SupervisionNotice(Base):
    """A supervision notice (督办单) the office issued by hand on a clue."""

    __tablename__ = "supervision_notice"
    id: Mapped[int] = mapped_column(primary_key=True)
    clue_id: Mapped[int] = mapped_column(ForeignKey("clue.id"), index=True)
    instance_id: Mapped[Optional[int]] = mapped_column(ForeignKey("process_instance.id"))
    issued_by: Mapped[Code]
    issued_at: Mapped[Utc]
    text: Mapped[str] = mapped_column(Text)
    deadline: Mapped[Optional[date]]
    responsible_unit: Mapped[Optional[Code]]
    work_group: Mapped[Optional[Code]]


# Tables of later areas live in their own modules (declared on the same Base), one per area.
from . import calendar_models, design_models, migration_models, report_models  # noqa: E402,F401
from . import stats_models  # noqa: E402,F401
from . import intake_models  # noqa: E402,F401
