"""Issue 18 item 10: the password rule refuses common and patterned passwords (`Password1`) and
going back to the current or a recent password, on change, administrator reset and creation."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from engine import Engine, ValidationFailed, accounts, org, passwords

FIRST = "Kai-Men-Qing-Shui-58"
LATER = ["Lu-Zhou-Ban-Ma-17", "Shan-Gao-Yue-Xiao-29", "Hua-Luo-Zhi-Duo-33", "Jiang-Feng-Yu-Huo-46",
         "Ye-Bo-Chun-Tian-52", "Xue-Ya-Qing-Song-64"]


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # the count matters here, not the cost
    monkeypatch.setattr(passwords, "hasher", cheap)
    monkeypatch.setattr(org, "_hasher", cheap)


@pytest.fixture
def office2(engine: Engine) -> str:
    engine.run(accounts.admin_create_user, "admin", "office2", "综合办公室 李强", "office", FIRST)
    return "office2"


@pytest.mark.parametrize("weak", ["Password1", "P@ssw0rd", "Qwerty123", "Admin@123", "Welcome1!"])
def test_common_passwords_are_refused_with_what_to_do(engine: Engine, weak: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        engine.run(accounts.admin_create_user, "admin", "office3", "综合办公室 王五", "office", weak)
    message = refused.value.fields["password"]
    assert "过于常见" in message and "请换一个" in message


def test_a_password_built_on_the_account_name_is_refused(engine: Engine) -> None:
    with pytest.raises(ValidationFailed) as refused:
        engine.run(accounts.admin_create_user, "admin", "zhangwei", "张伟", "office", "Zhangwei@1")
    assert "用户名或姓名" in refused.value.fields["password"]


def test_change_refuses_the_current_and_recent_passwords(engine: Engine, office2: str) -> None:
    with pytest.raises(ValidationFailed) as same:
        engine.run(accounts.change_password, office2, FIRST, FIRST)
    assert same.value.fields["password"] == "新密码不能与当前密码或最近 5 次用过的密码相同，请设置一个没有用过的密码"
    current = FIRST
    for new in LATER[:5]:
        assert engine.run(accounts.change_password, office2, current, new) is None
        current = new
    for old in [FIRST, *LATER[:4]]:  # the five before the current one are all remembered
        with pytest.raises(ValidationFailed, match="used before"):
            engine.run(accounts.change_password, office2, current, old)
    assert engine.run(accounts.change_password, office2, current, LATER[5]) is None
    assert engine.run(accounts.change_password, office2, LATER[5], FIRST) is None  # six changes ago: allowed


def test_an_administrators_reset_refuses_the_current_password_and_weak_ones(engine: Engine, office2: str) -> None:
    with pytest.raises(ValidationFailed, match="used before"):
        engine.run(accounts.admin_reset_password, "admin", office2, FIRST)
    with pytest.raises(ValidationFailed) as weak:
        engine.run(accounts.admin_reset_password, "admin", office2, "Password1")
    assert "Password1" in weak.value.fields["password"]
    engine.run(accounts.admin_reset_password, "admin", office2, LATER[0])
    with pytest.raises(ValidationFailed, match="used before"):
        engine.run(accounts.admin_reset_password, "admin", office2, FIRST)

