"""Every link on every page, crawled as each demo role, answers 2xx/3xx or is not shown.

The demo data (`chengxin demo`, engine/demo.py) is loaded once into a database of this module's
own; each role signs in through the login page and walks breadth-first every same-origin link
of every HTML page it reaches: `<a href>`, `<form method=get action>` with only hidden fields,
htmx `hx-get` and the `data-*-url` attributes scripts fetch. URLs are grouped by pattern (the
view, with ids, unit and group codes and user names in place of their values) and a pattern is
opened only a few times for each pattern of page that shows it, generated files once per role,
so the crawl stays bounded however many clues there are. Static assets named by `<link>`,
`<script>` and `<img>` are checked once, for whichever role meets them first. A redirect must
end at a page that answers, not at an error or back at the login page. A failure names the page
that showed the link (each kind of page that did). With CRAWL_REPORT=1 (and -s) each role
prints the page patterns it read and its slowest requests.
"""
from __future__ import annotations

import contextlib
import os
import re
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.exceptions import HTTPException
from werkzeug.routing import MapAdapter

from engine import FixedClock
from engine.clock import parse_moment
from engine.db.models import ProcessInstance
from engine.demo import DEMO_PASSWORD, ROLE_USERS, demo_users, load_demo
from engine.org import FIVE_GROUPS, SUIZHOU_UNITS
from webui import create_app

from ..conftest import ON_POSTGRESQL, TARGET
from ..factories import postgresql_schema

ROLES = [username for username, *_ in ROLE_USERS]
ORIGIN = "http://localhost"
PER_PATTERN = 3      # distinct URLs opened per pattern: enough to meet a second clue or page, not all of them
PER_DOWNLOAD = 1     # generated files (.docx, .xlsx, .png) are slow to make; so is the language switch
PER_ROLE = 300       # pages opened per role at most; the demo needs far fewer
MAX_REDIRECTS = 5
START = "(start)"
CHECKED_ASSETS: set[str] = set()
# Sign-out is a POST, but a link to it would end the crawl's session; the language switch is
# checked once per role and then undone so the rest of the crawl reads the same language.
NEVER_FOLLOW = re.compile(r"^/auth/logout")
ID_SEGMENT = re.compile(r"^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,})$", re.I)
# Unit and group codes and user names stand in URLs the way ids do (/reports/year-end/unit/zengdu.docx).
CODES = {code for code, *_ in SUIZHOU_UNITS} | {code for code, *_ in FIVE_GROUPS} | {u for u, *_ in demo_users()}

# Failures in the navigation bar (webui/templates/base.html, edited elsewhere): role -> {path: reason}.
KNOWN_NAV: dict[str, dict[str, str]] = {}


# --- the demo database ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    # A database of its own: the per-test fixtures empty their tables before every test, and
    # loading the demo once for all eight roles is what keeps this module fast.
    tmp = tmp_path_factory.mktemp("crawl")
    with _fresh_database(tmp) as url:
        app = create_app({
            "TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": True, "DATABASE_URL": url,
            "EVIDENCE_DIR": str(tmp / "evidence"), "IMPORT_DIR": str(tmp / "imports"),
            # A fixed day, so that every run crawls the same demo; `chengxin demo` places its
            # campaign around whatever day it is loaded on.
            "CLOCK": FixedClock(parse_moment("2024-11-20T10:00:00")),
        })
        engine = app.extensions["chengxin_engine"]
        load_demo(engine)  # migrates the empty database first, as `chengxin demo` does
        yield app
        engine.dispose()


@contextlib.contextmanager
def _fresh_database(tmp: Path) -> Iterator[str]:
    if ON_POSTGRESQL:
        with postgresql_schema(TARGET, prefix="crawl") as url:
            yield url
    else:
        yield f"sqlite:///{tmp / 'demo.sqlite3'}"


# --- reading pages ----------------------------------------------------------------------------------

@dataclass
class Found:
    links: list[tuple[str, bool, bool]] = field(default_factory=list)  # (url, inside the navigation bar, htmx)
    assets: list[str] = field(default_factory=list)


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found = Found()
        self.nav_depth = 0
        self.form: tuple[str, dict[str, str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "nav":
            self.nav_depth += 1
        in_nav = self.nav_depth > 0
        if tag == "a" and "href" in a:
            self.found.links.append((a["href"], in_nav, False))
        if tag == "form":
            self.form = (a.get("action", ""), {}) if a.get("method", "get").lower() == "get" else None
            if self.form is not None and not a.get("action"):
                self.form = None  # a filter form on its own page: opening the page again adds nothing
        if tag in ("select", "textarea") or (tag == "input" and a.get("type", "text") not in ("hidden", "submit", "button")):
            self.form = None  # the user fills it in: not a link
        if tag == "input" and a.get("type") == "hidden" and self.form is not None and a.get("name"):
            self.form[1][a["name"]] = a.get("value", "")
        if "hx-get" in a:
            self.found.links.append((a["hx-get"], in_nav, True))
        for name, value in a.items():
            if name.startswith("data-") and name.endswith("-url") and value:
                self.found.links.append((value, in_nav, False))
        if tag == "link" and a.get("href") and "stylesheet" in a.get("rel", "") + a.get("as", ""):
            self.found.assets.append(a["href"])
        if tag == "link" and a.get("rel") == "icon" and a.get("href"):
            self.found.assets.append(a["href"])
        if tag in ("script", "img") and a.get("src"):
            self.found.assets.append(a["src"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav" and self.nav_depth:
            self.nav_depth -= 1
        if tag == "form" and self.form is not None:
            action, fields = self.form
            # A form that sends nothing but its hidden fields is a link with a button for a face.
            self.found.links.append((action + ("?" + urlencode(fields) if fields else ""), self.nav_depth > 0,
                                     False))
            self.form = None


def same_origin(base: str, href: str) -> str | None:
    """The path and query that `href` on page `base` points at, or None when it leaves the site."""
    href = href.strip()
    if not href or href.startswith(("#", "mailto:", "tel:", "javascript:", "data:", "blob:")):
        return None
    absolute = urljoin(ORIGIN + base, href)
    parts = urlsplit(absolute)
    if f"{parts.scheme}://{parts.netloc}" != ORIGIN:
        return None
    return parts.path + ("?" + parts.query if parts.query else "")


def pattern(routes: MapAdapter, url: str) -> str:
    """What `url` has in common with the links that differ from it only in which clue, task, unit or
    user they name: its view, with ids and directory codes in place of their values (a form's key
    or a process id stays, since each is a page of its own), and the names of its query parameters.
    The language switch is one pattern per language, whatever page it is on."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    languages = [v for k, v in query if k == "lang"]
    if languages:
        return f"?lang={languages[0]}"
    try:
        endpoint, args = routes.match(parts.path, method="GET")
    except HTTPException:  # no such page (reported when opened) or a redirect to one
        return parts.path
    path = endpoint + "(" + ",".join(f"{k}={_placeholder(v)}" for k, v in sorted(args.items())) + ")"
    if is_download(url):
        return path  # the ledger's export of each filter is the same code as the ledger's page for it
    keys = sorted({k for k, _ in query})
    return path + ("?" + "&".join(keys) if keys else "")


def _placeholder(value: object) -> str:
    if isinstance(value, int) or ID_SEGMENT.match(str(value)):
        return "{id}"
    return "{code}" if value in CODES else str(value)


def is_download(url: str) -> bool:
    return "." in urlsplit(url).path.rsplit("/", 1)[-1]


# --- the crawl --------------------------------------------------------------------------------------

@dataclass
class Crawl:
    client: FlaskClient
    routes: MapAdapter
    role: str
    follow_nav: bool = True  # False: only the links in a page's own content
    failures: list[str] = field(default_factory=list)
    nav_failures: dict[str, str] = field(default_factory=dict)
    opened: int = 0
    per_pattern: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    checked_assets: set[str] = field(default_factory=lambda: CHECKED_ASSETS)  # once for all roles
    failed: dict[str, str] = field(default_factory=dict)  # url -> what it answered
    reported: set[tuple[str, str]] = field(default_factory=set)

    def sign_in(self) -> None:
        page = self.client.get("/auth/login")
        assert page.status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
        assert token, "the login page has no CSRF token"
        answer = self.client.post("/auth/login", data={"csrf_token": token.group(1), "username": self.role,
                                                       "password": DEMO_PASSWORD})
        assert answer.status_code == 302, f"{self.role} could not sign in: {answer.status_code}"

    def fetch(self, url: str, headers: dict[str, str]) -> tuple[int, str, str, str]:
        """Follows same-origin redirects; returns the final status, URL, content type and body."""
        for _ in range(MAX_REDIRECTS + 1):
            answer = self.client.get(url, headers=headers)
            if answer.status_code not in (301, 302, 303, 307, 308):
                body = answer.get_data(as_text=True) if answer.mimetype == "text/html" else ""
                return answer.status_code, url, answer.mimetype, body
            target = same_origin(url, answer.headers.get("Location", ""))
            if target is None:
                return answer.status_code, url, answer.mimetype, ""
            url = target
        return 310, url, "", ""  # a redirect loop

    def check_assets(self, page: str, assets: list[str]) -> None:
        for href in assets:
            url = same_origin(page, href)
            if url is None or url in self.checked_assets:
                continue
            self.checked_assets.add(url)
            answer = self.client.get(url)
            if answer.status_code != 200:
                self.failures.append(f"{answer.status_code} asset {url} (on {page})")
            answer.close()

    def fail(self, answer: str, url: str, shown_on: str, in_nav: bool) -> None:
        reason = KNOWN_NAV.get(self.role, {}).get(urlsplit(url).path)
        if in_nav and reason:
            self.nav_failures[answer] = reason
            return
        where = "the navigation bar" if in_nav else pattern(self.routes, shown_on)
        if (answer, where) not in self.reported:
            self.reported.add((answer, where))
            self.failures.append(f"{answer} (shown on {shown_on}{', navigation bar' if in_nav else ''})")

    def run(self, start: tuple[str, ...] = ("/",), budget: int = PER_ROLE) -> None:
        """Breadth-first from `start` (each opened and read, whatever its pattern). A link pattern is
        opened up to PER_PATTERN times for each pattern of page that shows it (a task linked from
        the inbox and from a clue page are different questions), and a page pattern is read for
        further links up to PER_PATTERN times."""
        self.sign_in()
        seen: set[str] = set()
        shown: dict[tuple[str, str], int] = {}
        read = self.per_pattern
        queue: deque[tuple[str, str, bool, bool]] = deque((url, START, False, False) for url in start)
        while queue and self.opened < budget:
            url, shown_on, in_nav, htmx = queue.popleft()
            if url in self.failed:
                self.fail(self.failed[url], url, shown_on, in_nav)  # another page shows the same broken link
                continue
            if url in seen or NEVER_FOLLOW.match(url):
                continue
            key = pattern(self.routes, url)
            limit = PER_DOWNLOAD if key.startswith("?lang=") or is_download(url) else PER_PATTERN
            pair = (key, "" if key.startswith("?lang=") else pattern(self.routes, shown_on))
            if shown.get(pair, 0) >= limit and shown_on != START:
                continue
            shown[pair] = shown.get(pair, 0) + 1
            seen.add(url)
            self.opened += 1
            headers = {"HX-Request": "true"} if htmx else {}
            began = time.perf_counter()
            status, final, mimetype, body = self.fetch(url, headers)
            self.seconds[url] = time.perf_counter() - began
            if status >= 400 or urlsplit(final).path == "/auth/login":
                self.failed[url] = f"{status} {url}" + (f" -> {final}" if final != url else "")
                self.fail(self.failed[url], url, shown_on, in_nav)
                continue
            if key.startswith("?lang="):
                with self.client.session_transaction() as session:
                    session.pop("lang", None)
                continue
            if mimetype != "text/html" or (read.get(key, 0) >= limit and shown_on != START):
                continue
            read[key] = read.get(key, 0) + 1
            parser = PageParser()
            parser.feed(body)
            self.check_assets(final, parser.found.assets)
            for href, nav, hx in parser.found.links:
                target = same_origin(final, href)
                if target is not None and target not in seen and (self.follow_nav or not nav):
                    queue.append((target, final, nav, hx))


@pytest.mark.parametrize("role", ROLES)
def test_every_link_answers(demo_app: Flask, role: str) -> None:
    started = time.perf_counter()
    crawl = Crawl(demo_app.test_client(), demo_app.url_map.bind("localhost"), role)
    crawl.run()
    elapsed = time.perf_counter() - started
    print(f"{role}: {crawl.opened} pages of {len(crawl.per_pattern)} patterns, {len(crawl.checked_assets)} assets so far, "
          f"{elapsed:.1f} s")
    if os.environ.get("CRAWL_REPORT"):
        print("\n".join(f"  {n} {key}" for key, n in sorted(crawl.per_pattern.items())))
        print("\n".join(f"  {s:.2f}s {url}" for url, s in sorted(crawl.seconds.items(), key=lambda i: -i[1])[:25]))
    assert crawl.opened > 5, f"{role} reached only {crawl.opened} pages"
    if crawl.failures:
        pytest.fail(f"{role} was shown links that do not answer:\n" + "\n".join(crawl.failures), pytrace=False)
    if crawl.nav_failures:
        pytest.xfail("; ".join(sorted(set(crawl.nav_failures.values()))))


def test_every_open_task_instance_and_process_of_the_demo_opens(demo_app: Flask) -> None:
    """What the role crawl may pass over: every task the demo leaves open (for the office, who sees
    them all, and for the first two demo accounts that handle each kind, other groups' and units'
    accounts too, with the links on the task page), every process instance for the supervisor, and
    every deployed version for the designer."""
    engine = demo_app.extensions["chengxin_engine"]
    routes = demo_app.url_map.bind("localhost")
    pages: dict[str, list[str]] = {"office": []}
    handlers: dict[str, set[str]] = {}
    for username, *_ in demo_users():
        for task in engine.tasks(username, per_page=200)["items"]:
            url = f"/tasks/{task['id']}"
            if url not in pages["office"]:
                pages["office"].append(url)
                if len(handlers.setdefault(task["name"], set()) - {username}) < 2:
                    handlers[task["name"]].add(username)
                    pages.setdefault(username, []).append(url)
    pages["supervisor"] = [f"/instances/{i}" for i in
                           engine.run(lambda ctx: ctx.session.scalars(select(ProcessInstance.id)).all())]
    pages["designer"] = [f"/designer/processes/{d['process_id']}/{d['version']}" for d in engine.definitions()]
    assert len(pages["office"]) > 20 and len(pages["supervisor"]) > 20, pages
    failures = []
    for username, urls in pages.items():
        crawl = Crawl(demo_app.test_client(), routes, username, follow_nav=False)
        links = 0 if username in ("office", "supervisor", "designer") else 5 * len(urls)
        crawl.run(tuple(urls), budget=len(urls) + links)
        failures += [f"{username}: {failure}" for failure in crawl.failures]
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)
