"""Issue 18 item 10: whoever takes data away (exports, documents, evidence files) is in the security
audit with what and which filter; refusals (403) are counted per user, route and minute instead of
one row each, so that they cannot flood the log."""
from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import Engine
from engine.db.models import SecurityEvent

from ..factories import ClueDriver
from .conftest import AuthActions
from .test_evidence_pages import PDF, upload


def rows(web_engine: Engine, kind: str) -> list[SecurityEvent]:
    with web_engine.transaction() as ctx:
        return list(ctx.session.scalars(select(SecurityEvent).where(SecurityEvent.kind == kind)
                                        .order_by(SecurityEvent.id)))


def test_exports_and_documents_are_recorded_with_their_filter(client: FlaskClient, auth: AuthActions,
                                                              web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    auth.login("office")
    for path in ("/ledger/export.xlsx?category=arrears_public&q=恒达&page=3",
                 "/dossiers/credit.xlsx?basis=spot_check_failed",
                 f"/dossiers/clue/{clue.clue_id}/case-file.docx",
                 "/reports/dispatch/notice.docx?start=2023-10-17&end=2023-11-05&number=5&issuer=",
                 "/reports/year-end/city.docx"):
        assert client.get(path).status_code == 200, path
    downloads = [(e.actor, e.detail["what"], e.target) for e in rows(web_engine, "download")]
    assert downloads == [("office", "ledger.xlsx", None), ("office", "credit-records.xlsx", None),
                         ("office", "case-file.docx", f"clue:{clue.clue_id}"),
                         ("office", "dispatch-notice.docx", None), ("office", "year-end-city.docx", "campaign:1")]
    ledger = rows(web_engine, "download")[0].detail
    assert ledger["filters"] == {"category": "arrears_public", "q": "恒达", "sort": "-id"} and ledger["rows"] == 1
    notice = rows(web_engine, "download")[3].detail["filters"]
    assert notice["start"] == "2023-10-17" and notice["number"] == "5"


def test_an_evidence_download_is_recorded(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage(), clue.assign()
    auth.login("unit")
    assert upload(client, clue.clue_id, PDF, "付款凭证.pdf").status_code == 302
    evidence_id = rows_of_evidence(web_engine)
    assert client.get(f"/evidence/{evidence_id}").status_code == 200
    [download] = rows(web_engine, "download")
    assert (download.actor, download.target, download.detail) == (
        "unit", f"evidence:{evidence_id}", {"what": "evidence", "clue": clue.clue_id, "filename": "付款凭证.pdf"})


def rows_of_evidence(web_engine: Engine) -> int:
    from engine.db.models import Evidence
    with web_engine.transaction() as ctx:
        return ctx.session.scalars(select(Evidence.id)).one()


def test_refusals_are_counted_per_user_route_and_minute(app: Flask, client: FlaskClient, auth: AuthActions,
                                                       web_engine: Engine) -> None:
    auth.login("unit")
    for n in range(40):
        assert client.get("/admin/users").status_code == 403
        assert client.get(f"/admin/users/user{n}").status_code == 403
    refused = rows(web_engine, "refused")
    assert [(e.actor, e.target, e.detail["count"]) for e in refused] == [
        ("unit", "/admin/users", 40), ("unit", "/admin/users/<username>", 40)]
    assert len(refused[1].detail["paths"]) == 10  # the first few paths tried, not all of them
    web_engine.clock.advance(minutes=1)  # type: ignore[attr-defined]
    assert client.get("/admin/users").status_code == 403
    assert [e.detail["count"] for e in rows(web_engine, "refused")] == [40, 40, 1]
