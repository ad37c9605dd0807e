"""The dossiers pages: case file and diagram downloads, the links on the clue page for the roles
that may follow them, the referral dossier by role on a referred clue, recording its receipt,
and the credit records list with its export."""
from __future__ import annotations

from io import BytesIO
from urllib.parse import unquote

import pytest
from docx import Document
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from engine import Engine
from engine.demo import DEMO_PASSWORD

from ..factories import ClueDriver

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ROLES = ["office", "group", "unit", "spotcheck", "discipline", "designer", "supervisor", "admin"]


def signed_in(app: Flask, role: str) -> FlaskClient:
    client = app.test_client()
    assert client.post("/auth/login", data={"username": role, "password": DEMO_PASSWORD}).status_code == 302
    return client


@pytest.fixture
def referred(web_engine: Engine) -> ClueDriver:
    clue = ClueDriver(web_engine, enterprise_name="甲企业", debtor="曾都区某局")
    clue.to_spot_check()
    clue.spot_check("fake")
    return clue


def test_case_file_downloads_as_a_word_document(app: Flask, referred: ClueDriver) -> None:
    response = signed_in(app, "supervisor").get(f"/dossiers/clue/{referred.clue_id}/case-file.docx")
    assert response.status_code == 200 and response.mimetype == DOCX
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"案卷_线索{referred.clue_id}.docx" in unquote(disposition)
    assert response.headers["Cache-Control"] == "private, no-store"
    document = Document(BytesIO(response.data))
    assert any("甲企业" in c.text for t in document.tables for r in t.rows for c in r.cells)
    png = signed_in(app, "discipline").get(f"/dossiers/clue/{referred.clue_id}/diagram.png")
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")


def test_the_clue_page_offers_the_documents_a_role_may_have(app: Flask, referred: ClueDriver) -> None:
    for role in ROLES:
        response = signed_in(app, role).get(f"/clues/{referred.clue_id}")
        if response.status_code != 200:
            assert role == "designer"
            continue
        page = response.get_data(as_text=True)
        assert ('data-testid="case-file-link"' in page) is (role in ("office", "supervisor", "discipline")), role
        assert ('data-testid="referral-link"' in page) is (role in ("office", "discipline")), role
        assert ("/dossiers/credit?clue_id=" in page) is (role in ("office", "supervisor", "discipline", "admin")), role


def test_no_referral_or_credit_links_on_an_ordinary_clue(app: Flask, web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    page = signed_in(app, "office").get(f"/clues/{clue.clue_id}").get_data(as_text=True)
    assert 'data-testid="case-file-link"' in page
    assert 'data-testid="referral-link"' not in page and 'data-testid="credit-link"' not in page


def test_the_referral_dossier_by_role(app: Flask, referred: ClueDriver) -> None:
    for role in ROLES:
        response = signed_in(app, role).get(f"/dossiers/clue/{referred.clue_id}/referral.docx")
        assert response.status_code == (200 if role in ("office", "discipline") else 403), role
        if response.status_code == 200:
            assert response.mimetype == DOCX
            assert "关于移送问题线索的函" in "\n".join(p.text for p in Document(BytesIO(response.data)).paragraphs)


def test_a_clue_not_referred_has_no_dossier(app: Flask, web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    client = signed_in(app, "office")
    assert client.get(f"/dossiers/clue/{clue.clue_id}/referral.docx").status_code == 409
    assert 'data-testid="not-referred"' in client.get(f"/dossiers/clue/{clue.clue_id}/referral").get_data(as_text=True)


def test_the_discipline_office_records_the_receipt_once(app: Flask, referred: ClueDriver) -> None:
    office = signed_in(app, "office")
    assert 'data-testid="receipt-form"' not in office.get(f"/dossiers/clue/{referred.clue_id}/referral").get_data(
        as_text=True)
    assert office.post(f"/dossiers/clue/{referred.clue_id}/receipt", data={"note": "x"}).status_code == 403
    discipline = signed_in(app, "discipline")
    page = discipline.get(f"/dossiers/clue/{referred.clue_id}/referral").get_data(as_text=True)
    assert 'data-testid="receipt-form"' in page
    response = discipline.post(f"/dossiers/clue/{referred.clue_id}/receipt", data={"note": "材料齐全"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/clue/{referred.clue_id}/referral")
    page = discipline.get(f"/dossiers/clue/{referred.clue_id}/referral").get_data(as_text=True)
    assert 'data-testid="receipt-form"' not in page and "材料齐全" in page and "陈静" in page
    again = discipline.post(f"/dossiers/clue/{referred.clue_id}/receipt", data={"note": "再签"}, follow_redirects=True)
    assert "再签" not in again.get_data(as_text=True)
    listing = office.get("/dossiers/referrals?state=received").get_data(as_text=True)
    assert f'href="/clues/{referred.clue_id}"' in listing
    assert f'href="/clues/{referred.clue_id}"' not in office.get("/dossiers/referrals?state=pending").get_data(
        as_text=True)
    history = office.get(f"/clues/{referred.clue_id}").get_data(as_text=True)
    assert history.count("移送材料签收") == 1


def test_credit_records_list_links_to_the_clue_and_exports(app: Flask, web_engine: Engine,
                                                            referred: ClueDriver) -> None:
    failed = ClueDriver(web_engine, enterprise_name="乙企业", debtor="随县某局")
    failed.to_spot_check()
    failed.spot_check("paper")
    client = signed_in(app, "admin")
    page = client.get("/dossiers/credit").get_data(as_text=True)
    assert 'data-testid="credit-total">2<' in page
    for clue in (referred, failed):
        assert f'href="/clues/{clue.clue_id}"' in page
    filtered = client.get("/dossiers/credit?q=随县").get_data(as_text=True)
    assert f'href="/clues/{failed.clue_id}"' in filtered and f'href="/clues/{referred.clue_id}"' not in filtered
    assert client.get("/dossiers/credit?basis=bogus").status_code == 422
    export = client.get("/dossiers/credit.xlsx?basis=referred")
    assert export.status_code == 200 and export.headers["X-Row-Count"] == "1"
    rows = list(load_workbook(BytesIO(export.data)).active.iter_rows(values_only=True))
    assert rows[1][1] == "曾都区某局" and rows[1][5] == referred.clue_id
