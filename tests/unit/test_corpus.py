"""Other tools' real diagrams (the BPMN MIWG reference models) either deploy or are refused with
problems that name their file and element: never a crash."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from engine import Engine
from engine.errors import DefinitionRejected

from ..factories import CORPUS

FILES = sorted(CORPUS.glob("*.bpmn"))
# What each refusal must at least name: (element id, words in the reason).
EXPECTED = {
    "A.1.0.bpmn": ("WFP-6-", "not executable"),
    "A.4.0.bpmn": ("_17bebb0f-f31e-475a-b1b1-76fcc2da172b", "lane"),
    "B.2.0.bpmn": ("_c9cb2415-6a2e-49d6-84b9-27babcde4088", "conditional events"),
    "C.1.0.bpmn": ("Approver", "selects who acts"),
    "C.1.1.bpmn": ("archiveInvoice", "names no operation"),
    "C.6.0.bpmn": ("_6a5cdbbf-2618-496e-b728-955dc215ef9d", "compensation"),
    "C.8.1.bpmn": ("_1a818a94-ba6f-413b-a7e8-6f8fd2a11e32", "names no decision"),
    "C.9.0.bpmn": ("StartMessageEvent_CancellationRequested", "message events"),
    "C.9.1.bpmn": ("ReceiveTask_WaitForDocument", "receive task"),
}


def ids_in(path: Path) -> set[str]:
    return {e.get("id") for e in etree.parse(str(path)).getroot().iter() if isinstance(e.tag, str) and e.get("id")}


def test_the_corpus_is_there() -> None:
    assert len(FILES) == 21


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_each_file_deploys_or_is_refused_naming_its_elements(bare_engine: Engine, path: Path) -> None:
    try:
        deployed = bare_engine.deploy([(path.name, path.read_bytes())], "designer")
    except DefinitionRejected as refused:
        problems = refused.problems
        assert problems
        ids = ids_in(path)
        for problem in problems:
            assert set(problem) == {"file", "element_id", "reason"}
            assert problem["file"] == path.name, problem
            assert problem["element_id"] in ids, problem  # every problem names a real element of the file
            assert "Traceback" not in problem["reason"] and problem["reason"].strip()
        if path.name in EXPECTED:
            element_id, words = EXPECTED[path.name]
            assert any(p["element_id"] == element_id and words in p["reason"] for p in problems), problems
        assert bare_engine.definitions() == []
    else:
        assert deployed and all(d["version"] == 1 for d in deployed)
