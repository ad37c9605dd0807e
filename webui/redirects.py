"""Where a `next` parameter (or the referring page) may send a user: only paths on this site.

Browsers drop tabs and line breaks anywhere in a URL and treat a backslash like a slash, so
`/\t/evil.example/` and `/\\evil.example` are read as `//evil.example` — another host. The
target is therefore normalised the way a browser would read it before it is judged.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import request, url_for

_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f\u2060\u3000\ufeff]")


def safe_next(target: str | None) -> str | None:
    """`target` as a same-origin path (with its query), or None when it could leave the site."""
    if not target:
        return None
    path = _INVISIBLE.sub("", target)
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return None
    return path


def next_or_home(target: str | None) -> str:
    """The safe `next` target, or the inbox."""
    return safe_next(target) or url_for("inbox.index")


def back_to_referrer() -> str:
    """The page the form was posted from when it is on this site, or the inbox."""
    referrer = request.referrer or ""
    parts = urlsplit(_INVISIBLE.sub("", referrer))
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return url_for("inbox.index")
    return next_or_home(parts.path + (f"?{parts.query}" if parts.query else ""))
