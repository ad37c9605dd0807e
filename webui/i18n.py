"""Language: Simplified Chinese unless the user picked English (?lang=en, kept in the session)."""
from __future__ import annotations

from flask import request, session

LANGUAGES = ("zh_CN", "en")


def select_locale() -> str:
    wanted = request.args.get("lang")
    if wanted in LANGUAGES:
        session["lang"] = wanted
    return session.get("lang", "zh_CN")
