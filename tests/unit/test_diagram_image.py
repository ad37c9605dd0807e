"""engine/diagram_image.py: every BPMN file with diagram interchange renders to a PNG (the MIWG
reference corpus included), marking colours only what is marked, Chinese labels have a font,
and files without a diagram are refused with a clear error."""
from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from lxml import etree
from PIL import Image

from engine import diagram_image
from engine.diagram_image import CURRENT_FILL, VISITED_FILL, NoDiagram, render_png, wrap

from ..conftest import ON_POSTGRESQL

ROOT = Path(__file__).resolve().parents[2]
from ..factories import CORPUS

CLUE_BPMN = (ROOT / "processes" / "clue_handling.bpmn").read_bytes()


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _count(png: bytes, colour: str) -> int:
    pixels = np.asarray(Image.open(BytesIO(png)).convert("RGB"))
    return int(np.all(pixels == np.array(_rgb(colour), dtype=pixels.dtype), axis=-1).sum())


# The corpus touches no database: rendering it once per CI run is enough.
@pytest.mark.skipif(ON_POSTGRESQL, reason="no database involved; run on the SQLite pass")
@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.bpmn")), ids=lambda p: p.name)
def test_every_reference_model_renders(path: Path) -> None:
    png = render_png(path.read_bytes(), max_pixels=900)
    image = Image.open(BytesIO(png))
    assert image.format == "PNG"
    assert max(image.size) <= 900 + 1 and min(image.size) > 20
    # Something was drawn: a good share of the pixels are not white.
    assert int((np.asarray(image.convert("L")) < 200).sum()) > 500


def test_marking_colours_what_is_visited_and_current_only() -> None:
    plain = render_png(CLUE_BPMN, max_pixels=1500)
    marked = render_png(CLUE_BPMN, visited={"Start_collected", "Task_triage", "Gateway_accepted"},
                        current={"Task_assign"}, transitions={("Task_triage", "Gateway_accepted")},
                        max_pixels=1500)
    assert _count(plain, VISITED_FILL) == 0 and _count(plain, CURRENT_FILL) == 0
    assert _count(marked, VISITED_FILL) > 200
    assert _count(marked, CURRENT_FILL) > 200
    bigger = render_png(CLUE_BPMN, visited={"Start_collected", "Task_triage", "Gateway_accepted", "Task_plan",
                                            "Task_review"}, current={"Task_assign"}, max_pixels=1500)
    assert _count(bigger, VISITED_FILL) > _count(marked, VISITED_FILL)


def test_the_image_respects_the_size_limit_and_shows_a_legend_only_when_marked() -> None:
    small = Image.open(BytesIO(render_png(CLUE_BPMN, max_pixels=800)))
    assert max(small.size) <= 801
    with_legend = Image.open(BytesIO(render_png(CLUE_BPMN, current={"Task_triage"}, max_pixels=800)))
    assert with_legend.size[1] > small.size[1]  # room for the key below the diagram


def test_chinese_labels_have_a_font() -> None:
    assert diagram_image.WQY.exists(), "fonts-wqy-microhei is missing (make test installs it)"
    font = diagram_image.chinese_font()
    assert font is not None and "wqy" in str(font.get_file()).lower()


def test_chinese_text_wraps_anywhere_and_latin_at_spaces() -> None:
    assert wrap("整改并反馈销号", 40, 10) == "整改并反\n馈销号"
    assert wrap("Review and document result", 80, 10) == "Review and\ndocument\nresult"
    assert wrap("第一行\n第二行", 200, 10) == "第一行\n第二行"
    assert wrap("很" * 100, 20, 10, max_lines=2).endswith("…")


@pytest.mark.parametrize("content", [
    b"not xml at all",
    b"<html><body>hello</body></html>",
    b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"/></definitions>',
])
def test_files_without_a_diagram_are_refused(content: bytes) -> None:
    with pytest.raises(NoDiagram) as refused:
        render_png(content)
    assert "流程图" in refused.value.fields["file"]


def test_external_entities_are_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    xml = CLUE_BPMN.decode().replace('<?xml version="1.0" encoding="UTF-8"?>',
                                     f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>', 1)
    in_text = xml.replace("<bpmn:userTask id=\"Task_triage\" name=\"分析研判\">",
                          "<bpmn:userTask id=\"Task_triage\" name=\"分析研判\"><bpmn:documentation>&x;</bpmn:documentation>", 1)
    assert "&x;" in in_text
    assert b"TOPSECRET" not in etree.tostring(diagram_image._parse(in_text.encode()))
    assert render_png(in_text.encode(), max_pixels=600).startswith(b"\x89PNG")
    with pytest.raises(NoDiagram):  # lxml refuses an external entity in an attribute outright
        render_png(xml.replace('name="分析研判"', 'name="&x;"', 1).encode(), max_pixels=600)


def test_a_diagram_can_be_chosen_by_id() -> None:
    assert diagram_image.diagrams(CLUE_BPMN)[0]["id"]
    with pytest.raises(NoDiagram):
        render_png(CLUE_BPMN, diagram="no-such-diagram")
