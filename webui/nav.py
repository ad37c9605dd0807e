"""The navigation: menus of the pages a role may open, and nothing it would be refused.

Each entry's roles are the engine's own rule for that page where the engine names one (so a
change of who may open a page changes the menu too); tests/integration/test_nav.py opens every
link as every demo role and fails on a refusal.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from engine.credit import VIEWING_ROLES as CREDIT_ROLES
from engine.db.models import Role
from engine.designer import VIEW_ROLES as DESIGN_ROLES
from engine.instance_view import MONITORS
from engine.referral import PREPARING_ROLES as REFERRAL_ROLES
from engine.stats import DASHBOARD_ROLES
from engine.version_migration import MIGRATORS
from engine.year_end import ROLES as YEAR_END_ROLES

EVERYONE = tuple(Role)


@dataclass(frozen=True)
class Entry:
    endpoint: str
    label: Any
    roles: tuple[Role, ...] | frozenset[Role] | set[Role] = EVERYONE
    testid: str = ""


MENUS: list[tuple[Any, str, list[Entry]]] = [
    (_l("Clue handling"), "clues", [
        Entry("ledger.index", _l("Ledger")),
        Entry("clues.new", _l("Register clue"), (Role.office,)),
        Entry("imports.index", _l("Import problem list"), (Role.office,)),
    ]),
    (_l("Oversight and reports"), "supervision", [
        Entry("dashboard.index", _l("Dashboard"), DASHBOARD_ROLES),
        Entry("instances.index", _l("Process instances"), MONITORS),
        Entry("reports.dispatch", _l("Dispatch notices"), (Role.office, Role.supervisor)),
        Entry("reports.year_end_index", _l("Year-end summaries"), YEAR_END_ROLES),
        Entry("dossiers.credit_records", _l("Credit records"), CREDIT_ROLES),
        Entry("dossiers.referrals", _l("Referrals"), REFERRAL_ROLES),
    ]),
    (_l("Processes and settings"), "processes", [
        Entry("designer.index", _l("Process design"), DESIGN_ROLES),
        Entry("migration.index", _l("Version migration"), MIGRATORS),
        Entry("campaigns.index", _l("Campaign calendar"), (Role.office,)),
        Entry("admin.users", _l("Administration"), (Role.admin,)),
    ]),
]


def may_open(endpoint: str, roles: Any, app: Flask) -> bool:
    return endpoint in app.view_functions and current_user.is_authenticated and Role(current_user.role) in roles


def menus(app: Flask) -> list[dict[str, Any]]:
    """The current user's menus, each with the links they may open; empty menus left out."""
    shown = []
    for label, key, entries in MENUS:
        links = [{"href": url_for(e.endpoint), "label": e.label, "endpoint": e.endpoint}
                 for e in entries if may_open(e.endpoint, e.roles, app)]
        if links:
            shown.append({"label": label, "key": key, "links": links})
    return shown


def init_app(app: Flask) -> None:
    @app.context_processor
    def navigation() -> dict[str, Any]:
        return {"nav_menus": lambda: menus(app), "may_open": lambda endpoint, roles: may_open(endpoint, roles, app),
                "MIGRATORS": MIGRATORS}
