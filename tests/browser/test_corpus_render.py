"""Every BPMN MIWG reference model (tests/data/bpmn-miwg-reference) opened the way a
designer would — the modeler's "open a local file" input — imports into the bpmn-js modeler
without an error and renders in the read-only viewer (the bundle readers get). The files are opened one after another in one
modeler page, as a designer would go through them.

Import warnings (elements bpmn-js keeps but cannot fully draw) are allowed and counted; the
figures are printed (pytest -s) and saved in test-artifacts/browser/corpus-render.json.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from .conftest import ARTIFACTS, SignIn

from ..factories import CORPUS

FILES = sorted(CORPUS.glob("*.bpmn"))


def test_every_reference_model_imports_and_renders(page: Page, sign_in: SignIn, shoot: Callable[[str], Path]) -> None:
    assert len(FILES) == 21, f"expected the 21 MIWG reference models in {CORPUS}"
    sign_in("designer")
    figures = {}
    page.goto("/designer/new")
    status = page.get_by_test_id("import-status")
    expect(status).to_have_attribute("data-imports", "1")  # the blank new diagram
    for number, path in enumerate(FILES, start=2):
        page.get_by_test_id("open-file").set_input_files(path)
        expect(status).to_have_attribute("data-imports", str(number))
        assert status.get_attribute("data-state") == "ok", f"{path.name}: {status.text_content()}"
        shapes = page.locator("#canvas g.djs-element").count()
        assert shapes > 1, f"{path.name}: nothing drawn in the modeler"

        page.locator("[data-action=preview]").click()
        preview = page.get_by_test_id("preview")
        expect(preview).to_have_attribute("data-state", "ok")
        assert int(preview.get_attribute("data-shapes") or 0) > 1, f"{path.name}: nothing drawn in the viewer"

        figures[path.name] = {
            "modeler_warnings": int(status.get_attribute("data-warnings") or 0),
            "viewer_warnings": int(preview.get_attribute("data-warnings") or 0),
            "shapes": shapes,
        }
        if path.name in ("A.1.0.bpmn", "C.1.0.bpmn"):
            shoot(path.stem.replace(".", "_"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "corpus-render.json").write_text(json.dumps(figures, indent=1))
    print("\ncorpus render:", json.dumps(figures))
    assert len(figures) == len(FILES)
