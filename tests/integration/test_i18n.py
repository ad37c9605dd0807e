"""UI language: Simplified Chinese by default, English on request, and a complete zh_CN catalog.

The catalogs live in webui/translations/ (Chinese in zh_Hans_CN, the folder Flask-Babel looks in
for the locale "zh_CN"); webui/translations/update.sh re-extracts the strings after templates change. The .mo files are compiled by `make translations` (part of `make install`).
"""
from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

import webui

TRANSLATIONS = Path(webui.__file__).parent / "translations"


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, abort_invalid=True)


def test_login_page_is_chinese_by_default(client: FlaskClient) -> None:
    page = client.get("/auth/login").get_data(as_text=True)
    assert "登录" in page and "Sign in" not in page
    assert '<html lang="zh-CN">' in page


def test_login_page_is_english_on_request_and_the_choice_sticks(client: FlaskClient) -> None:
    page = client.get("/auth/login?lang=en").get_data(as_text=True)
    assert "Sign in" in page and "登录" not in page
    assert "Sign in" in client.get("/auth/login").get_data(as_text=True)  # kept in the session
    assert "登录" in client.get("/auth/login?lang=zh_CN").get_data(as_text=True)


def test_every_msgid_has_a_chinese_translation() -> None:
    template = _read(TRANSLATIONS / "messages.pot")
    chinese = _read(TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po")
    wanted = [message for message in template if message.id]
    assert wanted, "messages.pot is empty"
    untranslated = []
    for message in wanted:
        singular = message.id[0] if isinstance(message.id, tuple) else message.id
        found = chinese.get(singular, message.context)
        strings = () if found is None else found.string if isinstance(found.string, tuple) else (found.string,)
        if found is None or found.fuzzy or not strings or not all(strings):
            untranslated.append(singular)
    assert not untranslated, (
        f"{len(untranslated)} msgid(s) lack a zh_CN translation (run webui/translations/update.sh, "
        f"then translate webui/translations/zh_Hans_CN/LC_MESSAGES/messages.po): {untranslated}")


def test_english_catalog_falls_back_to_the_msgids() -> None:
    english = _read(TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po")
    assert [m.id for m in english if m.id and m.string] == []
