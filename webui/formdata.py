"""Turn an HTML form post into the typed JSON a forms/ definition validates."""
from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

#: The checkbox that confirms the unusual values a submission was sent back for (templates/_confirm.html).
CONFIRM_FIELD = "confirm_warnings"
_ROW = re.compile(r"^(?P<field>\w+)\[(?P<index>\d+)\]\[(?P<sub>\w+)\]$")


def _typed(schema: dict[str, Any], raw: str) -> Any:
    kind = schema.get("type")
    text = raw.strip()
    if text == "":
        return None
    if schema.get("x-money"):
        return text  # engine.money parses it exactly; a float here would already have lost fen
    if kind == "boolean":
        return {"true": True, "on": True, "1": True, "false": False, "0": False}.get(text.lower(), text)
    if kind in ("number", "integer"):
        try:
            number = float(text.replace(",", ""))
        except ValueError:
            return text  # left for the schema to refuse with a field message
        return int(number) if kind == "integer" and number.is_integer() else number
    return text


def form_to_data(schema: dict[str, Any], form: MultiDict[str, str], ui: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read every field of the schema from the post; unknown keys are ignored.

    A checkbox that is not ticked sends nothing, so a boolean shown as a checkbox (ui widget)
    and absent from the post is False."""
    properties = schema.get("properties", {})
    widgets = {name: hints.get("widget") for name, hints in ((ui or {}).get("fields") or {}).items()}
    data: dict[str, Any] = {}
    rows: dict[str, dict[int, dict[str, Any]]] = {}
    for key in form:
        match = _ROW.match(key)
        if match and match["field"] in properties:
            item_schema = properties[match["field"]].get("items", {}).get("properties", {})
            value = _typed(item_schema.get(match["sub"], {}), form[key])
            if value is not None:
                rows.setdefault(match["field"], {}).setdefault(int(match["index"]), {})[match["sub"]] = value
    for name, prop in properties.items():
        if prop.get("type") == "array":
            if name in rows:
                data[name] = [rows[name][i] for i in sorted(rows[name])]
            continue
        if prop.get("type") == "boolean" and name not in form and "checkbox" in (widgets.get(name), prop.get("x-widget")):
            data[name] = False
            continue
        if name in form:
            value = _typed(prop, form[name])
            if value is not None:
                data[name] = value
    return data
