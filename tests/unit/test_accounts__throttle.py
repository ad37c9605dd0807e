"""Issue 18 item 10: signing in neither tells which accounts exist nor lets anyone lock another
person out. Failures are counted per (account, address) with growing blocks, and per address."""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from engine import Engine, accounts, directory, org, passwords
from engine.db.models import SecurityEvent

PASSWORD = "Chengxin#2023"
ATTACKER, OWNER = "10.0.0.66", "10.0.0.7"


def sign_in(engine: Engine, username: str, password: str, addr: str = ATTACKER) -> accounts.LoginResult:
    return engine.run(lambda ctx: accounts.authenticate(ctx, username, password, addr))


def security_events(engine: Engine, kind: str) -> list[SecurityEvent]:
    with engine.transaction() as ctx:
        return list(ctx.session.scalars(select(SecurityEvent).where(SecurityEvent.kind == kind)
                                        .order_by(SecurityEvent.id)))


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    # argon2 at its real cost takes ~0.4 s a check on this machine; what is tested is how many.
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", cheap)
    monkeypatch.setattr(passwords, "DUMMY_HASH", cheap.hash("not-a-real-password-Aa1!"))
    monkeypatch.setattr(org, "_hasher", cheap)


@pytest.fixture(autouse=True)
def office2(engine: Engine, cheap_hashes: None) -> None:
    engine.create_users([("office2", "综合办公室二", "office", None, None)], password=PASSWORD)


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch, cheap_hashes: None) -> list[str]:
    """Every argon2 verification made, by the hash it was made against."""
    made: list[str] = []
    real = passwords.hasher

    class Counting:
        def verify(self, password_hash: str, password: str) -> Any:
            made.append(password_hash)
            return real.verify(password_hash, password)

        def hash(self, password: str) -> str:
            return real.hash(password)

    monkeypatch.setattr(passwords, "hasher", Counting())
    return made


def answer(result: accounts.LoginResult) -> tuple[Any, ...]:
    return result.user is None, result.refusal, result.retry_after


def test_a_real_and_an_unknown_name_get_the_same_answer_at_the_same_cost(engine: Engine, hashes: list[str]) -> None:
    real, unknown = [], []
    for _ in range(7):  # past the block: the 6th and 7th attempts are blocked for both alike
        before = len(hashes)
        real.append((answer(sign_in(engine, "office2", "Wrong#Guess2023")), len(hashes) - before))
        before = len(hashes)
        unknown.append((answer(sign_in(engine, "nobody", "Wrong#Guess2023")), len(hashes) - before))
    assert real == unknown
    assert [cost for _, cost in real] == [1, 1, 1, 1, 1, 0, 0]  # one hash each, none once blocked
    assert real[0][0] == (True, "用户名或密码错误", None)
    blocked, refusal, retry_after = real[5][0]
    assert blocked and "登录失败次数过多" in refusal and "1 分钟" in refusal and retry_after == 61


def test_the_owner_signs_in_from_elsewhere_while_the_attacker_is_blocked(engine: Engine) -> None:
    for _ in range(5):
        sign_in(engine, "office2", "Wrong#Guess2023")
    assert sign_in(engine, "office2", PASSWORD).retry_after is not None  # even the right password waits here
    assert sign_in(engine, "office2", PASSWORD, OWNER).user is not None
    [blocked] = security_events(engine, "login_blocked")
    assert (blocked.actor, blocked.remote_addr, blocked.detail) == (
        "office2", ATTACKER, {"scope": "account from address", "minutes": 1})


def test_each_block_of_an_account_from_an_address_lasts_longer(engine: Engine) -> None:
    lengths = []
    for _ in range(6):
        for _ in range(5):
            sign_in(engine, "office2", "Wrong#Guess2023")
        lengths.append(sign_in(engine, "office2", "Wrong#Guess2023").retry_after)
        engine.clock.advance(minutes=16)  # type: ignore[attr-defined]
    assert lengths == [61, 121, 241, 481, 900 + 1, 900 + 1]  # 1, 2, 4, 8 minutes, then the 15-minute cap
    assert sign_in(engine, "office2", PASSWORD).user is not None  # a right password clears the count
    for _ in range(4):
        sign_in(engine, "office2", "Wrong#Guess2023")
    assert sign_in(engine, "office2", PASSWORD).user is not None


def test_one_address_trying_many_names_is_blocked_for_every_name(engine: Engine,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.runtime, "settings",
                        dataclasses.replace(engine.runtime.settings, login_ip_max_failures=8))
    for n in range(8):
        assert sign_in(engine, f"guess{n}", "Wrong#Guess2023").retry_after is None
    spray = sign_in(engine, "office2", PASSWORD)
    assert spray.user is None and spray.retry_after == 15 * 60 + 1
    assert sign_in(engine, "office2", PASSWORD, OWNER).user is not None
    engine.clock.advance(minutes=15, seconds=1)  # type: ignore[attr-defined]
    assert sign_in(engine, "office2", PASSWORD).user is not None
    assert [e.detail for e in security_events(engine, "login_blocked")] == [{"scope": "address", "minutes": 15}]


def test_blocked_attempts_are_counted_in_the_security_log_not_listed(engine: Engine) -> None:
    for _ in range(5):
        sign_in(engine, "office2", "Wrong#Guess2023")
    for _ in range(30):
        sign_in(engine, "office2", "Wrong#Guess2023")
    assert len(security_events(engine, "login_failed")) == 5
    [throttled] = security_events(engine, "login_throttled")
    assert (throttled.actor, throttled.target, throttled.detail["count"]) == ("office2", ATTACKER, 30)


def test_an_administrators_reset_lifts_every_block_of_the_account(engine: Engine) -> None:
    for addr in (ATTACKER, OWNER):
        for _ in range(5):
            sign_in(engine, "office2", "Wrong#Guess2023", addr)
    assert engine.run(directory.get_user, "admin", "office2")["locked"] is True
    engine.run(accounts.admin_reset_password, "admin", "office2", "Kai-Men-Qing-Shui-58")
    assert engine.run(directory.get_user, "admin", "office2")["locked"] is False
    assert sign_in(engine, "office2", "Kai-Men-Qing-Shui-58").user is not None


def test_a_block_ends_by_itself(engine: Engine) -> None:
    for _ in range(5):
        sign_in(engine, "office2", "Wrong#Guess2023")
    assert sign_in(engine, "office2", PASSWORD).retry_after == 61
    engine.clock.advance(seconds=61)  # type: ignore[attr-defined]
    assert sign_in(engine, "office2", PASSWORD).user is not None
