"""Chengxin's web UI: a thin Flask layer over engine functions (one blueprint per area)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response, redirect, request, url_for
from flask_babel import Babel, get_locale
from flask_wtf.csrf import CSRFProtect

from engine import Engine, EngineSettings
from engine.settings import PACKAGE_ROOT, default_database_url

csrf = CSRFProtect()
babel = Babel()
LANGUAGES = ("zh_CN", "en")


def _secret_key(instance_path: str) -> str:
    # One random key per installation, kept in the instance folder, never in the repository.
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        os.chmod(path, 0o600)
    return path.read_text().strip()


def _smtp_settings(config: dict[str, Any]) -> Any:
    """E-mail from instance/config.py (SMTP_HOST, SMTP_PORT, SMTP_SENDER, …); off when no host."""
    if not config.get("SMTP_HOST"):
        return None
    from engine.notifications import SmtpSettings
    return SmtpSettings(host=config["SMTP_HOST"], port=int(config.get("SMTP_PORT", 25)),
                        sender=config.get("SMTP_SENDER", "chengxin@localhost"), username=config.get("SMTP_USERNAME"),
                        password=config.get("SMTP_PASSWORD"), starttls=bool(config.get("SMTP_STARTTLS")),
                        enabled=bool(config.get("SMTP_ENABLED", True)))


# No inline script anywhere (templates use static files; JSON data blocks are not executed);
# bpmn-js, dmn-js and htmx set inline styles, hence 'unsafe-inline' for styles only; their icon
# fonts are data: URLs.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data: blob:; font-src 'self' data:; object-src 'none'; base-uri 'self'; "
                           "form-action 'self'; "
                           "frame-ancestors 'none'")


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    # Clue, task and API pages and exports carry complainant data: no copy in a shared browser's
    # or proxy's cache. Static files (versioned with the release) may still be cached.
    if request.endpoint != "static" and "no-store" not in headers.get("Cache-Control", ""):
        headers["Cache-Control"] = "no-store"
        headers.pop("Expires", None)
    return response


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(PACKAGE_ROOT / "instance"), instance_relative_config=True)
    app.config.from_mapping(
        DATABASE_URL=os.environ.get("CHENGXIN_DATABASE_URL") or default_database_url(),
        EVIDENCE_DIR=str(PACKAGE_ROOT / "instance" / "evidence"),
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,  # set True behind HTTPS (config.py in the instance folder)
        REMEMBER_COOKIE_DURATION=0,
        IDLE_TIMEOUT_MINUTES=30,
        BABEL_DEFAULT_LOCALE="zh_CN",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        WTF_CSRF_TIME_LIMIT=None,
        CLOCK=None,
    )
    app.config.from_pyfile("config.py", silent=True)
    if test_config is not None:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app.instance_path)
    settings = EngineSettings(database_url=app.config["DATABASE_URL"], evidence_dir=Path(app.config["EVIDENCE_DIR"]),
                              smtp=_smtp_settings(app.config))
    app.extensions["chengxin_engine"] = Engine(settings, app.config["CLOCK"])

    csrf.init_app(app)
    from .i18n import select_locale
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")

    from . import (admin, api, auth, campaigns, clues, dashboard, designer, dossiers, drafts, errors, evidence, filters,
                   imports, inbox, instances, ledger, migration, nav, notifications, ops, preferences, process_api,
                   reports, supervision,
                   tasks, tokens)
    errors.init_app(app)
    drafts.init_app(app)
    filters.init_app(app)
    nav.init_app(app)
    for module in (auth, inbox, tasks, clues, ledger, admin, api, process_api, evidence, imports, tokens, campaigns,
                   notifications, supervision, instances, designer, migration, dashboard, reports, dossiers, ops,
                   preferences):
        app.register_blueprint(module.bp)
        if hasattr(module, "init_app"):
            module.init_app(app)
    app.add_url_rule("/", endpoint="index", view_func=lambda: redirect(url_for("inbox.index")))
    # Browsers ask for /favicon.ico whatever the page links; answer it rather than log a 404 per page.
    app.add_url_rule("/favicon.ico", endpoint="favicon",
                     view_func=lambda: app.send_static_file("favicon.ico"))
    app.after_request(_security_headers)

    @app.context_processor
    def endpoints() -> dict[str, Any]:
        return {"url_endpoints": app.view_functions.keys(), "get_locale": get_locale}

    return app
