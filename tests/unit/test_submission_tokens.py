"""One clue per form instance: a token submitted twice — one after the other, or at the same moment
from two threads (a double click reaching two server threads) — registers one clue (issue 11, defect 8)."""
from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import Engine, clues
from engine.db.intake_models import SubmissionToken
from engine.db.models import Clue
from engine.errors import ValidationFailed

from ..factories import INTAKE


def clue_count(engine: Engine) -> int:
    with engine.transaction() as ctx:
        return ctx.session.scalar(select(func.count()).select_from(Clue)) or 0


def register(engine: Engine, token: str | None, **kwargs: Any) -> dict[str, Any]:
    return engine.run(clues.add_clue, "office", dict(INTAKE), submission_token=token, **kwargs)


def test_the_same_token_twice_registers_one_clue_and_returns_it(engine: Engine) -> None:
    first = register(engine, "form-1")
    second = register(engine, "form-1")
    assert first["replayed"] is False and second["replayed"] is True and second["same_data"] is True
    assert second["clue_id"] == first["clue_id"] and second["instance_id"] == first["instance_id"]
    assert clue_count(engine) == 1
    with engine.transaction() as ctx:
        row = ctx.session.get_one(SubmissionToken, ("office", "form-1"))
        assert row.clue_id == first["clue_id"] and row.form == "intake"


def test_another_token_or_none_registers_again(engine: Engine) -> None:
    register(engine, "form-1")
    register(engine, "form-2")
    register(engine, None)
    assert clue_count(engine) == 3


def test_a_refused_submission_leaves_its_token_free_for_the_corrected_one(engine: Engine) -> None:
    with pytest.raises(ValidationFailed):
        engine.run(clues.add_clue, "office", {**INTAKE, "summary": ""}, submission_token="form-1")
    with engine.transaction() as ctx:
        assert ctx.session.get(SubmissionToken, ("office", "form-1")) is None
    assert register(engine, "form-1")["replayed"] is False and clue_count(engine) == 1


def test_changed_data_with_a_used_key_is_refused_when_asked(engine: Engine) -> None:
    register(engine, "key-1")
    changed = {**INTAKE, "summary": "另一件事"}
    with pytest.raises(ValidationFailed) as caught:
        engine.run(clues.add_clue, "office", changed, submission_token="key-1", refuse_changed=True,
                   token_field="Idempotency-Key")
    assert "Idempotency-Key" in caught.value.fields
    replay = engine.run(clues.add_clue, "office", changed, submission_token="key-1")
    assert replay["replayed"] is True and replay["same_data"] is False and clue_count(engine) == 1


def test_a_new_token_with_the_same_data_soon_after_counts_as_a_resubmit_when_asked(engine: Engine) -> None:
    first = register(engine, "form-1")
    assert register(engine, "form-2")["replayed"] is False  # the API and other callers: not asked
    again = register(engine, "form-3", catch_resubmits=True)
    assert again["replayed"] is True and again["clue_id"] in (first["clue_id"], first["clue_id"] + 1)
    assert register(engine, "form-3")["clue_id"] == again["clue_id"]  # that token leads there too
    engine.clock.advance(minutes=31)  # type: ignore[attr-defined]
    assert register(engine, "form-4", catch_resubmits=True)["replayed"] is False
    assert clue_count(engine) == 3


@pytest.mark.parametrize("token", ["", "含中文", "a b", "x" * 101])
def test_malformed_tokens_are_refused(engine: Engine, token: str) -> None:
    with pytest.raises(ValidationFailed):
        register(engine, token)
    assert clue_count(engine) == 0


def test_two_threads_with_the_same_token_register_one_clue(engine: Engine) -> None:
    start = threading.Barrier(2)
    results: list[dict[str, Any]] = []
    failures: list[BaseException] = []

    def submit() -> None:
        try:
            start.wait(timeout=10)
            results.append(register(engine, "double-click"))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert sorted(r["replayed"] for r in results) == [False, True]
    assert results[0]["clue_id"] == results[1]["clue_id"]
    assert clue_count(engine) == 1
