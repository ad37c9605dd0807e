"""Notifications: in-app messages (the bell), their e-mail copies and the daily digest.

`notify` writes one row per recipient and, when e-mail is on, one outbox row for each
recipient with an address — in the caller's transaction, so a notification exists exactly
when what it announces does. `send_pending` runs from a scheduler job (`register_jobs`):
each e-mail in its own transaction; a failure is recorded and retried after 1, 2, 4 …
minutes (at most 10 tries) and never raised, so a dead SMTP server blocks nothing.
"""
from __future__ import annotations

import logging
import smtplib
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import ColumnElement, and_, func, or_, select, update

from . import access
from .clock import SHANGHAI
from .db.models import DigestSent, EmailOutbox, HumanTask, Notification, Role, User
from .db.session import is_postgresql
from .errors import Forbidden, NotFound, ValidationFailed

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from .context import Context, Runtime

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
DIGEST_HORIZON = timedelta(days=3)
DIGEST_MAX_LINES = 30


@dataclass(frozen=True)
class SmtpSettings:
    """Where e-mail goes. Off unless `enabled` (the demo sends nothing)."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    enabled: bool = False
    timeout: float = 10.0


# E-mail settings per engine until EngineSettings carries them (`settings.smtp`): set by
# configure_email / register_jobs. Weak, so that a disposed engine does not linger here.
_configured: dict[int, tuple[weakref.ref[Any], SmtpSettings]] = {}


def configure_email(engine_or_runtime: Any, smtp: SmtpSettings | None) -> None:
    """Tell `notify` whether (and where) this engine sends e-mail."""
    runtime = getattr(engine_or_runtime, "runtime", engine_or_runtime)
    if smtp is None:
        _configured.pop(id(runtime), None)
    else:
        _configured[id(runtime)] = (weakref.ref(runtime), smtp)


def smtp_of(runtime: Runtime) -> SmtpSettings | None:
    entry = _configured.get(id(runtime))
    if entry is not None and entry[0]() is runtime:
        return entry[1]
    return getattr(runtime.settings, "smtp", None)


def email_enabled(ctx: Context) -> bool:
    smtp = smtp_of(ctx.runtime)
    return smtp is not None and smtp.enabled


# --- recipients ------------------------------------------------------------------------------

def _audience_filter(recipient: str) -> ColumnElement[bool] | None:
    """The users an audience string (access.task_audience) or a plain username denotes."""
    kind, sep, value = recipient.partition(":")
    if not sep:
        kind, value = "user", recipient
    if not value:
        return None
    if kind == "user":
        return User.username == value
    if kind == "unit":
        return and_(User.role == Role.unit, User.unit_code == value)
    if kind == "group":
        if value == access.OFFICE_GROUP:
            return User.role == Role.office
        return and_(User.role == Role.group, User.group_code == value)
    if kind == "spotcheck":
        return and_(User.role == Role.spotcheck, User.group_code == value)
    if kind == "role" and value in Role.__members__:
        return User.role == Role(value)
    return None  # "nobody" and anything unknown


def resolve_recipients(ctx: Context, recipients: Iterable[str]) -> list[User]:
    """The active users behind audience strings and usernames, each once, by username."""
    conditions = [c for c in (_audience_filter(r) for r in recipients) if c is not None]
    if not conditions:
        return []
    return list(ctx.session.scalars(
        select(User).where(User.active.is_(True), or_(*conditions)).order_by(User.username)))


# --- in-app notifications --------------------------------------------------------------------

def _safe_link(link: str) -> bool:
    return (len(link) <= 200 and link.startswith("/") and not link.startswith("//") and "\\" not in link
            and link.isprintable())


def notify(ctx: Context, recipients: list[str], kind: str, title: str, body: str = "",
           clue_id: int | None = None, link: str | None = None) -> int:
    """Notify every active user the recipients denote; returns how many were notified.

    :raises ValidationFailed: a link that is not a path on this site.
    """
    if link is not None and not _safe_link(link):
        raise ValidationFailed(f"notification link {link!r} is not a path on this site", {"link": "链接无效"})
    title = " ".join(title.split())[:200] or kind  # one line: it is also an e-mail subject
    mail = email_enabled(ctx)
    users = resolve_recipients(ctx, recipients)
    for user in users:
        ctx.session.add(Notification(username=user.username, kind=kind[:64], title=title, body=body,
                                     clue_id=clue_id, link=link, created_at=ctx.now))
        if mail and user.email:
            ctx.session.add(EmailOutbox(username=user.username, to_address=user.email, subject=title,
                                        body=body or title, created_at=ctx.now, attempts=0, next_attempt_at=ctx.now))
    return len(users)


def unread_count(ctx: Context, username: str) -> int:
    return ctx.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.username == username, Notification.read_at.is_(None))) or 0


def _summary(row: Notification) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "title": row.title, "body": row.body, "clue_id": row.clue_id,
            "link": row.link, "created_at": row.created_at.isoformat(),
            "read_at": row.read_at.isoformat() if row.read_at else None}


def list_notifications(ctx: Context, username: str, page: int = 1, per_page: int = 20,
                       unread_only: bool = False) -> dict[str, Any]:
    """A user's notifications, newest first, with the total and the unread count.

    :raises ValidationFailed: bad paging. :raises NotFound, Forbidden: unknown or disabled user.
    """
    if page < 1 or not 1 <= per_page <= 200:
        raise ValidationFailed("bad paging", {"page" if page < 1 else "per_page": "page ≥ 1，per_page 为 1–200"})
    user = access.get_user(ctx.session, username)
    where = [Notification.username == user.username]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    total = ctx.session.scalar(select(func.count()).select_from(Notification).where(*where)) or 0
    rows = ctx.session.scalars(select(Notification).where(*where).order_by(Notification.id.desc())
                               .offset((page - 1) * per_page).limit(per_page))
    return {"items": [_summary(r) for r in rows], "total": total, "unread": unread_count(ctx, user.username)}


def mark_read(ctx: Context, username: str, ids: list[int] | Literal["all"]) -> int:
    """Mark some (or all) of a user's own notifications read; returns how many changed."""
    where = [Notification.username == username, Notification.read_at.is_(None)]
    if ids != "all":
        wanted = [int(i) for i in ids]
        if not wanted:
            return 0
        where.append(Notification.id.in_(wanted))
    result = ctx.session.execute(update(Notification).where(*where).values(read_at=ctx.now)
                                 .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def open_notification(ctx: Context, username: str, notification_id: int) -> dict[str, Any]:
    """One of the user's own notifications, marked read (the user followed it).

    :raises NotFound: not this user's notification.
    """
    row = ctx.session.get(Notification, notification_id)
    if row is None or row.username != username:
        raise NotFound(f"notification {notification_id} does not exist")
    if row.read_at is None:
        row.read_at = ctx.now
    return _summary(row)


def set_email(ctx: Context, actor: str, username: str, email: str | None) -> dict[str, Any]:
    """Set (or clear) the address a user's notifications are e-mailed to: the user or an admin.

    :raises Forbidden: someone else's address, not an admin. :raises ValidationFailed: bad address.
    """
    from .accounts import audit

    acting = access.get_user(ctx.session, actor)
    if acting.username != username and acting.role != Role.admin:
        raise Forbidden(f"user {actor!r} may not change the e-mail address of {username!r}")
    target = ctx.session.scalar(select(User).where(User.username == username))
    if target is None:
        raise ValidationFailed(f"user {username!r} does not exist", {"username": "用户不存在"})
    email = (email or "").strip() or None
    if email is not None and (len(email) > 200 or email.count("@") != 1 or any(c.isspace() for c in email)
                              or not all(email.split("@"))):
        raise ValidationFailed("bad e-mail address", {"email": "电子邮箱格式不正确"})
    target.email = email
    audit(ctx, acting.username, "email_changed", target=username)
    return {"username": username, "email": email}


# --- daily digest ----------------------------------------------------------------------------

def deadline_day(due_at: datetime) -> date:
    """The day a deadline falls on: due at 00:00 means the end of the day before."""
    local = due_at.astimezone(SHANGHAI)
    return (local - timedelta(microseconds=1)).date() if local.time() == datetime.min.time() else local.date()


def queue_daily_digests(ctx: Context) -> int:
    """Per user, one notification (and e-mail) listing their READY tasks overdue or due within
    three days; at most once per user and day (Asia/Shanghai). Returns how many were queued."""
    day = ctx.now.astimezone(SHANGHAI).date()
    by_audience: dict[str, list[HumanTask]] = defaultdict(list)
    for row in ctx.session.scalars(select(HumanTask).where(
            HumanTask.due_at.is_not(None), HumanTask.due_at <= ctx.now + DIGEST_HORIZON)
            .order_by(HumanTask.due_at, HumanTask.id)):
        by_audience[row.audience].append(row)
    if not by_audience:
        return 0
    already = set(ctx.session.scalars(select(DigestSent.username).where(DigestSent.day == day)))
    queued = 0
    for user in ctx.session.scalars(select(User).where(User.active.is_(True)).order_by(User.username)):
        if user.username in already:
            continue
        rows = sorted((r for a in access.audiences(user) for r in by_audience.get(a, ())),
                      key=lambda r: (r.due_at, r.id))
        if not rows:
            continue
        overdue = sum(1 for r in rows if r.due_at is not None and r.due_at < ctx.now)
        title = f"每日待办提醒（{day.isoformat()}）：已逾期 {overdue} 项，3 日内到期 {len(rows) - overdue} 项"
        lines = [f"· {'【已逾期】' if r.due_at is not None and r.due_at < ctx.now else '【即将到期】'}"
                 f"{r.title}{f'（线索 #{r.clue_id}）' if r.clue_id else ''}，"
                 f"办理期限 {deadline_day(r.due_at).isoformat() if r.due_at else ''}" for r in rows[:DIGEST_MAX_LINES]]
        if len(rows) > DIGEST_MAX_LINES:
            lines.append(f"…… 另有 {len(rows) - DIGEST_MAX_LINES} 项，请登录系统查看待办。")
        notify(ctx, [f"user:{user.username}"], "digest", title, "\n".join(lines))
        ctx.session.add(DigestSent(username=user.username, day=day, sent_at=ctx.now, task_count=len(rows)))
        queued += 1
    return queued


# --- sending e-mail --------------------------------------------------------------------------

class _Mailer:
    """One SMTP connection for a batch, opened on first use. After a connection-level failure
    the rest of the batch fails at once (and backs off) instead of waiting for each timeout."""

    def __init__(self, smtp: SmtpSettings) -> None:
        self.smtp = smtp
        self.connection: smtplib.SMTP | None = None
        self.down: str | None = None

    def send(self, to_address: str, subject: str, body: str, now: datetime) -> None:
        if self.down is not None:
            raise ConnectionError(f"SMTP server unavailable: {self.down}")
        message = EmailMessage()
        message["From"] = self.smtp.sender
        message["To"] = to_address
        message["Subject"] = subject
        message["Date"] = format_datetime(now)
        message["Message-ID"] = make_msgid(domain=self.smtp.sender.rpartition("@")[2] or None)
        message.set_content(body)
        if self.connection is None:
            try:
                self.connection = self._connect()
            except OSError as exc:  # smtplib's errors are OSErrors too: refused, TLS, login
                self._mark_down(exc)
                raise
        try:
            self.connection.send_message(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
            # The server answered: this message was refused (unless the server is closing down).
            if getattr(exc, "smtp_code", None) == 421:
                self._mark_down(exc)
            raise
        except OSError as exc:  # refused, timed out, disconnected
            self._mark_down(exc)
            raise

    def _mark_down(self, exc: BaseException) -> None:
        self.down = f"{type(exc).__name__}: {exc}"
        self.close()

    def _connect(self) -> smtplib.SMTP:
        connection = smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.smtp.timeout)
        try:
            if self.smtp.starttls:
                connection.starttls()
            if self.smtp.username:
                connection.login(self.smtp.username, self.smtp.password or "")
        except BaseException:
            connection.close()
            raise
        return connection

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                self.connection.close()
            self.connection = None


def _runner(target: Any) -> Callable[..., Any]:
    """An Engine's run, or the same over a factory of transactions (`engine.transaction`)."""
    if hasattr(target, "run"):
        return target.run  # type: ignore[no-any-return]

    def run(operation: Callable[..., Any], *args: Any) -> Any:
        with target() as ctx:
            return operation(ctx, *args)
    return run


def _due_ids(ctx: Context, now: datetime | None, limit: int) -> list[int]:
    return list(ctx.session.scalars(
        select(EmailOutbox.id).where(EmailOutbox.next_attempt_at <= (now or ctx.now), EmailOutbox.sent_at.is_(None))
        .order_by(EmailOutbox.next_attempt_at, EmailOutbox.id).limit(limit)))


def _send_one(ctx: Context, outbox_id: int, mailer: _Mailer, now: datetime | None) -> str:
    now = now or ctx.now
    query = select(EmailOutbox).where(EmailOutbox.id == outbox_id, EmailOutbox.sent_at.is_(None),
                                      EmailOutbox.next_attempt_at <= now)
    if is_postgresql(ctx.session):
        query = query.with_for_update(skip_locked=True)  # another worker is sending it
    row = ctx.session.scalar(query)
    if row is None:
        return "skipped"
    row.attempts += 1
    try:
        mailer.send(row.to_address, row.subject, row.body, now)
    except (smtplib.SMTPException, OSError) as exc:
        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if row.attempts >= MAX_ATTEMPTS:
            row.next_attempt_at = None
            log.warning("giving up e-mail %s to %s after %d attempts: %s", row.id, row.to_address, row.attempts,
                        row.last_error)
            return "gave_up"
        row.next_attempt_at = now + timedelta(minutes=2 ** (row.attempts - 1))
        return "failed"
    row.sent_at, row.next_attempt_at, row.last_error = now, None, None
    return "sent"


def send_pending(ctx_factory_or_engine: Any, smtp: SmtpSettings, now: datetime | None = None,
                 limit: int = 100) -> dict[str, int]:
    """Send due outbox e-mails, each in its own transaction; never raises.

    Returns counts: sent, failed (will be retried), gave_up (after MAX_ATTEMPTS), errors
    (the database itself failed; the row stays due).
    """
    counts = {"sent": 0, "failed": 0, "gave_up": 0, "skipped": 0, "errors": 0}
    if not smtp.enabled:
        return counts
    run = _runner(ctx_factory_or_engine)
    try:
        due = run(_due_ids, now, limit)
    except Exception:  # noqa: BLE001 - the outbox job must never take anything down with it
        log.exception("reading the e-mail outbox failed")
        counts["errors"] += 1
        return counts
    mailer = _Mailer(smtp)
    try:
        for outbox_id in due:
            try:
                counts[run(_send_one, outbox_id, mailer, now)] += 1
            except Exception:  # noqa: BLE001
                log.exception("recording e-mail %s failed", outbox_id)
                counts["errors"] += 1
    finally:
        mailer.close()
    return counts


# --- scheduler -------------------------------------------------------------------------------

def register_jobs(scheduler: BaseScheduler, engine: Any, smtp: SmtpSettings | None = None,
                  ladder_batch: int = 100) -> None:
    """Outbox every 30 s (when e-mail is on), the digest daily at 08:00 Asia/Shanghai and the
    escalation ladder every minute. Each job logs its failures and never raises."""
    from . import ladder

    configure_email(engine, smtp)

    def guarded(name: str, job: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            try:
                result = job()
                if result:
                    log.info("%s: %s", name, result)
            except Exception:  # noqa: BLE001
                log.exception("%s failed", name)
        return run

    def advance_ladder() -> int:
        total = 0
        while True:  # small transactions, so no instance stays locked for long
            taken = engine.run(ladder.advance_ladder, ladder_batch)
            total += taken
            if taken < ladder_batch:
                return total

    if smtp is not None and smtp.enabled:
        scheduler.add_job(guarded("e-mail outbox", lambda: {k: v for k, v in send_pending(engine, smtp).items() if v}),
                          "interval", seconds=30, id="email_outbox", max_instances=1, coalesce=True,
                          replace_existing=True)
    scheduler.add_job(guarded("daily digest", lambda: engine.run(queue_daily_digests)), "cron", hour=8, minute=0,
                      timezone=SHANGHAI, id="daily_digest", max_instances=1, coalesce=True,
                      misfire_grace_time=3600, replace_existing=True)
    scheduler.add_job(guarded("escalation ladder", advance_ladder), "interval", minutes=1, id="escalation_ladder",
                      max_instances=1, coalesce=True, replace_existing=True)
