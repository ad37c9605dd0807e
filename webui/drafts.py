"""Typed work survives the end of a session (issue 11, defect 5).

A form page whose view is marked `@keeps_typed_work` never loses what was typed when its POST
arrives without a usable session — signed out in another tab, cookies cleared, idle timeout,
or a CSRF token from a session that has since been replaced. Instead of a 400 the fields are
kept server-side (engine.kept_forms), the browser is sent to sign in (or straight back to the
page when still signed in) with a Chinese notice, and the page's GET puts the fields back into
the form. Static JS (static/forms.js) also keeps a local draft; this side works without it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import MultiDict

from engine import kept_forms

from .db import engine
from .errors import wants_json
from .formdata import form_to_data

SESSION_KEY = "kept_form"
NOT_KEPT = ("csrf_token",)
F = TypeVar("F", bound=Callable[..., Any])


def keeps_typed_work(view: F) -> F:
    """Mark a form view whose POST fields are kept when the session has ended."""
    view.keeps_typed_work = True  # type: ignore[attr-defined]
    return view


def _keepable() -> bool:
    if request.method != "POST" or request.path.startswith("/api/") or request.endpoint is None:
        return False
    view = current_app.view_functions.get(request.endpoint)
    return bool(getattr(view, "keeps_typed_work", False))


def clear_session() -> None:
    """session.clear() that keeps the pointer to a kept form: signing in must not lose it."""
    kept = session.get(SESSION_KEY)
    session.clear()
    if kept:
        session[SESSION_KEY] = kept


def keep_posted_form(username: str | None) -> bool:
    """Keep this request's form fields if its page asks for that; True when kept."""
    if not _keepable():
        return False
    fields = [(name, value) for name, value in request.form.items(multi=True) if name not in NOT_KEPT]
    key = engine().run(kept_forms.keep, request.path, fields, username)
    if key is None:
        return False
    session[SESSION_KEY] = key
    flash(_("Your session had ended, so nothing was submitted. Sign in again and submit: what you typed "
            "has been kept."), "warning")
    return True


def kept_fields() -> MultiDict[str, str] | None:
    """The fields kept for this page and the signed-in user, once (they are gone after this)."""
    key = session.get(SESSION_KEY)
    if not key or not current_user.is_authenticated:
        return None
    fields = engine().run(kept_forms.take, key, request.path, current_user.username)
    if fields is None:
        return None
    session.pop(SESSION_KEY, None)
    flash(_("What you typed before signing in again is back in the form; check it and submit."), "info")
    return MultiDict(fields)


def values_of(schema: dict[str, Any], kept: MultiDict[str, str]) -> dict[str, Any]:
    """Form values for re-rendering kept fields: typed, but numbers exactly as they were typed."""
    properties = schema.get("properties", {})
    typed = form_to_data(schema, kept)
    as_typed = {name: kept[name] for name, prop in properties.items()
                if prop.get("type") in ("number", "integer") and kept.get(name, "").strip()}
    return {**kept.to_dict(), **typed, **as_typed}


def _login_redirect() -> Any:
    return redirect(url_for("auth.login", next=request.path))


def init_app(app: Flask) -> None:
    @app.before_request
    def keep_when_signed_out() -> Any:
        # login_required would redirect to the login page and drop the POST body.
        if request.method == "POST" and not current_user.is_authenticated and keep_posted_form(None):
            return _login_redirect()
        return None

    @app.errorhandler(CSRFError)
    def csrf_failed(exc: CSRFError) -> Any:
        signed_in = current_user.is_authenticated
        if keep_posted_form(current_user.username if signed_in else None):
            # Still signed in (a newer session replaced the token): straight back to the page.
            return redirect(request.path) if signed_in else _login_redirect()
        if wants_json():  # as every other 400 of the API
            return {"error": "bad_request", "message": _("This page had expired, so nothing was submitted. Go back, "
                                                         "reload the page and try again."),
                    "detail": exc.description}, 400
        if not signed_in:
            flash(_("Your session had ended. Sign in again."), "warning")
            return _login_redirect()
        return render_template("errors/error.html", status=400, message=_(
            "This page had expired, so nothing was submitted. Go back, reload the page and try again.")), 400
