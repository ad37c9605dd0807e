"""engine/notifications.py: who a notification reaches, the bell's count, the e-mail outbox
(sent to a local SMTP server, retried with backoff when it is down) and the daily digest."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select, update

from engine import Engine, ValidationFailed
from engine.clock import parse_moment
from engine.db.models import DigestSent, EmailOutbox, User
from engine.notifications import (MAX_ATTEMPTS, SmtpSettings, configure_email, list_notifications, mark_read,
                                  notify, open_notification, queue_daily_digests, register_jobs, resolve_recipients,
                                  send_pending,
                                  set_email, unread_count)

from ..factories import ClueDriver


def recipients_of(engine: Engine, *audiences: str) -> list[str]:
    return engine.run(lambda ctx: [u.username for u in resolve_recipients(ctx, list(audiences))])


def test_audiences_resolve_to_the_active_users_they_denote(engine: Engine) -> None:
    assert recipients_of(engine, "unit:zengdu") == ["unit", "unit_zengdu"]
    assert recipients_of(engine, "group:arrears_public") == ["group", "group_arrears_public"]
    assert recipients_of(engine, "spotcheck:arrears_public") == ["spotcheck", "spotcheck_arrears_public"]
    assert recipients_of(engine, "group:office") == ["office"]  # the office stands in for a group
    assert recipients_of(engine, "role:office", "role:discipline") == ["discipline", "office"]
    assert recipients_of(engine, "user:designer", "admin", "nobody", "unit:no_such_unit") == ["admin", "designer"]
    assert recipients_of(engine, "unit:zengdu", "user:unit") == ["unit", "unit_zengdu"]  # once each
    with engine.transaction() as ctx:
        ctx.session.execute(update(User).where(User.username == "unit_zengdu").values(active=False))
    assert recipients_of(engine, "unit:zengdu") == ["unit"]


def test_unread_count_list_and_mark_read_are_per_user(engine: Engine) -> None:
    for n in range(3):
        assert engine.run(notify, ["unit:zengdu"], "test", f"第{n}条", "正文", None, f"/tasks/{n}") == 2
    engine.run(notify, ["role:office"], "test", "办公室的")
    assert engine.run(unread_count, "unit") == 3 and engine.run(unread_count, "office") == 1
    assert engine.run(unread_count, "group") == 0
    page = engine.run(list_notifications, "unit", 1, 2)
    assert page["total"] == 3 and page["unread"] == 3
    assert [i["title"] for i in page["items"]] == ["第2条", "第1条"]  # newest first
    office_id = engine.run(list_notifications, "office")["items"][0]["id"]
    # Marking someone else's notification does nothing.
    assert engine.run(mark_read, "unit", [page["items"][0]["id"], office_id]) == 1
    assert engine.run(unread_count, "unit") == 2 and engine.run(unread_count, "office") == 1
    assert engine.run(unread_count, "unit_zengdu") == 3
    assert engine.run(list_notifications, "unit", 1, 20, True)["total"] == 2
    assert engine.run(mark_read, "unit", "all") == 2
    assert engine.run(unread_count, "unit") == 0
    opened = engine.run(open_notification, "office", office_id)
    assert opened["read_at"] and engine.run(unread_count, "office") == 0
    with pytest.raises(Exception) as refused:
        engine.run(open_notification, "unit", office_id)
    assert type(refused.value).__name__ == "NotFound"


def test_links_must_stay_on_this_site(engine: Engine) -> None:
    for link in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        with pytest.raises(ValidationFailed):
            engine.run(notify, ["role:office"], "test", "标题", "", None, link)


def test_email_is_queued_only_when_enabled_and_for_users_with_an_address(engine: Engine) -> None:
    engine.run(set_email, "admin", "unit", "zhangwei@zengdu.example")
    engine.run(set_email, "unit_zengdu", "unit_zengdu", None)
    with pytest.raises(ValidationFailed):
        engine.run(set_email, "unit", "unit", "not an address")
    engine.run(notify, ["unit:zengdu"], "test", "邮件关闭时")
    configure_email(engine, SmtpSettings("127.0.0.1", 25, "chengxin@suizhou.example", enabled=True))
    try:
        engine.run(notify, ["unit:zengdu"], "test", "邮件开启时", "正文")
    finally:
        configure_email(engine, None)
    with engine.transaction() as ctx:
        rows = list(ctx.session.scalars(select(EmailOutbox)))
    assert [(r.to_address, r.subject, r.body, r.attempts) for r in rows] == [
        ("zhangwei@zengdu.example", "邮件开启时", "正文", 0)]


# --- sending over SMTP ---------------------------------------------------------------------

class Collector:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    """A local SMTP server that the test can stop and start again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = Collector()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def outbox(engine: Engine) -> list[EmailOutbox]:
    with engine.transaction() as ctx:
        rows = list(ctx.session.scalars(select(EmailOutbox).order_by(EmailOutbox.id)))
        ctx.session.expunge_all()
    return rows


def test_email_sent_to_a_local_server_and_retried_while_it_is_down(engine: Engine, smtp_server: SmtpServer) -> None:
    smtp = SmtpSettings("127.0.0.1", smtp_server.port, "chengxin@suizhou.example", enabled=True, timeout=5)
    configure_email(engine, smtp)
    try:
        engine.run(set_email, "admin", "unit", "zhangwei@zengdu.example")
        engine.run(notify, ["user:unit"], "test", "【催办】线索 #7 整改并反馈销号", "已到办理期限")
        assert send_pending(engine, smtp) == {"sent": 1, "failed": 0, "gave_up": 0, "skipped": 0, "errors": 0}
        [(to, message)] = smtp_server.handler.messages
        assert to == ["zhangwei@zengdu.example"] and message["To"] == "zhangwei@zengdu.example"
        assert str(make_header(decode_header(message["Subject"]))) == "【催办】线索 #7 整改并反馈销号"
        assert message.get_payload(decode=True).decode("utf-8").strip() == "已到办理期限"
        [sent] = outbox(engine)
        assert sent.sent_at == engine.clock.now() and sent.next_attempt_at is None and sent.attempts == 1
        assert send_pending(engine, smtp)["sent"] == 0  # nothing twice

        smtp_server.stop()
        engine.run(notify, ["user:unit"], "test", "第二封")
        result = send_pending(engine, smtp)  # must not raise
        assert result["failed"] == 1 and result["sent"] == 0
        failed = outbox(engine)[1]
        now = engine.clock.now()
        assert failed.attempts == 1 and failed.sent_at is None and failed.last_error
        assert failed.next_attempt_at == now + timedelta(minutes=1)
        assert send_pending(engine, smtp)["failed"] == 0  # not due again yet

        engine.clock.advance(minutes=1)  # type: ignore[attr-defined]
        assert send_pending(engine, smtp)["failed"] == 1
        assert outbox(engine)[1].next_attempt_at == engine.clock.now() + timedelta(minutes=2)  # 1, 2, 4 … minutes

        smtp_server.start()
        engine.clock.advance(minutes=2)  # type: ignore[attr-defined]
        assert send_pending(engine, smtp)["sent"] == 1
        retried = outbox(engine)[1]
        assert retried.sent_at == engine.clock.now() and retried.attempts == 3 and retried.last_error is None
        assert [str(make_header(decode_header(m["Subject"]))) for _, m in smtp_server.handler.messages] == [
            "【催办】线索 #7 整改并反馈销号", "第二封"]
    finally:
        configure_email(engine, None)


def test_email_given_up_after_the_last_attempt(engine: Engine) -> None:
    smtp = SmtpSettings("127.0.0.1", free_port(), "chengxin@suizhou.example", enabled=True, timeout=2)
    configure_email(engine, smtp)
    try:
        engine.run(set_email, "admin", "office", "office@suizhou.example")
        engine.run(notify, ["role:office"], "test", "无法送达")
        results = []
        for _ in range(MAX_ATTEMPTS + 2):
            results.append(send_pending(engine, smtp))
            engine.clock.advance(hours=12)  # type: ignore[attr-defined]
    finally:
        configure_email(engine, None)
    assert sum(r["failed"] for r in results) == MAX_ATTEMPTS - 1 and sum(r["gave_up"] for r in results) == 1
    [row] = outbox(engine)
    assert row.attempts == MAX_ATTEMPTS and row.next_attempt_at is None and row.sent_at is None


def test_send_pending_is_idle_when_email_is_off(engine: Engine) -> None:
    off = SmtpSettings("127.0.0.1", 1, "chengxin@suizhou.example")
    assert send_pending(engine, off) == {"sent": 0, "failed": 0, "gave_up": 0, "skipped": 0, "errors": 0}
    # a factory of transactions works as well as an Engine
    assert send_pending(engine.transaction, SmtpSettings("127.0.0.1", 1, "x@y.example", enabled=True))["sent"] == 0


# --- daily digest --------------------------------------------------------------------------

def test_daily_digest_once_per_user_and_day(engine: Engine) -> None:
    soon, late, far = ClueDriver(engine), ClueDriver(engine), ClueDriver(engine)
    for clue, deadline in ((soon, "2023-11-22"), (late, "2023-11-18"), (far, "2023-12-20")):
        clue.triage()
        clue.assign(deadline=deadline)
    engine.clock.set(parse_moment("2023-11-20T08:00:00"))  # type: ignore[attr-defined]
    configure_email(engine, SmtpSettings("127.0.0.1", 25, "chengxin@suizhou.example", enabled=True))
    try:
        engine.run(set_email, "admin", "unit", "zhangwei@zengdu.example")
        assert engine.run(queue_daily_digests) == 2  # the two zengdu accounts
        assert engine.run(queue_daily_digests) == 0  # the same day: nothing again
    finally:
        configure_email(engine, None)
    items = [i for i in engine.run(list_notifications, "unit")["items"] if i["kind"] != "task_assigned"]
    assert len(items) == 1 and items[0]["kind"] == "digest"
    assert "已逾期 1 项" in items[0]["title"] and "3 日内到期 1 项" in items[0]["title"]
    assert f"线索 #{late.clue_id}" in items[0]["body"] and f"线索 #{soon.clue_id}" in items[0]["body"]
    assert f"线索 #{far.clue_id}" not in items[0]["body"]
    assert engine.run(unread_count, "office") == 0 and engine.run(unread_count, "group") == 0
    assert [r.to_address for r in outbox(engine)] == ["zhangwei@zengdu.example"]
    engine.clock.advance(days=1)  # type: ignore[attr-defined]
    assert engine.run(queue_daily_digests) == 2
    with engine.transaction() as ctx:
        days = sorted((d.username, d.day.isoformat()) for d in ctx.session.scalars(select(DigestSent)))
    assert days == [("unit", "2023-11-20"), ("unit", "2023-11-21"), ("unit_zengdu", "2023-11-20"),
                    ("unit_zengdu", "2023-11-21")]


def test_register_jobs_adds_the_three_jobs(engine: Engine) -> None:
    scheduler = BackgroundScheduler()
    try:
        register_jobs(scheduler, engine, SmtpSettings("127.0.0.1", 25, "chengxin@suizhou.example", enabled=True))
        assert sorted(job.id for job in scheduler.get_jobs()) == ["daily_digest", "email_outbox", "escalation_ladder"]
        quiet = BackgroundScheduler()
        register_jobs(quiet, engine, None)  # e-mail off: no outbox job
        assert sorted(job.id for job in quiet.get_jobs()) == ["daily_digest", "escalation_ladder"]
    finally:
        configure_email(engine, None)
