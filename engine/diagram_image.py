"""A BPMN diagram drawn to PNG on the server from its diagram interchange (bpmndi).

Only the interchange is read: shapes with their bounds, edges with their waypoints, labels
with their own bounds when the file gives them. Anything the renderer does not know is drawn
as a plain box, so every file with a diagram renders. Elements can be marked: `visited`
(filled green), `current` (amber, thick border) and the transitions taken (green edges).
Matplotlib is driven through its object API (no pyplot, no global state), so requests can
render in parallel threads.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from lxml import etree
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Ellipse, FancyBboxPatch, Polygon, Rectangle, Wedge

from .errors import ValidationFailed

WQY = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
CJK_FONT_NAMES = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Source Han Sans SC",
                  "Droid Sans Fallback", "SimHei", "Microsoft YaHei")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)

TASKS = {"task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask", "receiveTask",
         "manualTask", "callActivity"}
SUBPROCESSES = {"subProcess", "transaction", "adHocSubProcess"}
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}
DATA = {"dataObjectReference", "dataObject", "dataInput", "dataOutput"}
CONTAINERS = {"participant", "lane"}

INK, PAPER, MUTED = "#222222", "#ffffff", "#666666"
VISITED_FILL, VISITED_INK = "#d3efd9", "#1e7b34"
CURRENT_FILL, CURRENT_INK = "#ffe8a3", "#d9480f"
LEGEND = (("visited", "已办理环节"), ("current", "当前环节"), ("flow", "已经过的路径"))


class NoDiagram(ValidationFailed):
    """The file is not BPMN, or has no diagram interchange to draw."""

    def __init__(self, message: str) -> None:
        super().__init__(message, {"file": "该文件没有可绘制的流程图（缺少 BPMN DI 图形信息）"})


@dataclass
class _Element:
    kind: str
    name: str = ""
    definitions: list[str] = field(default_factory=list)  # event definition kinds
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class _Shape:
    element_id: str
    kind: str
    x: float
    y: float
    w: float
    h: float
    name: str
    element: _Element
    horizontal: bool = True
    expanded: bool | None = None
    label: tuple[float, float, float, float] | None = None


@dataclass
class _Edge:
    element_id: str
    kind: str
    points: list[tuple[float, float]]
    name: str
    element: _Element
    label: tuple[float, float, float, float] | None = None


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


@lru_cache(maxsize=1)
def chinese_font() -> FontProperties | None:
    """The WQY font when installed, else any CJK font matplotlib knows, else None (no Chinese glyphs)."""
    if WQY.exists():
        return FontProperties(fname=str(WQY))
    for entry in fontManager.ttflist:
        if any(name.lower() in entry.name.lower() for name in CJK_FONT_NAMES):
            return FontProperties(fname=entry.fname)
    return None


# --- reading ----------------------------------------------------------------------------------
def _parse(xml: str | bytes) -> etree._Element:
    try:
        root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise NoDiagram(f"not well-formed XML: {exc}") from None
    if _local(root.tag) != "definitions":
        raise NoDiagram("not a BPMN definitions document")
    return root


def _semantics(root: etree._Element) -> dict[str, _Element]:
    elements: dict[str, _Element] = {}
    for node in root.iter():
        kind = _local(node.tag)
        element_id = node.get("id")
        if not element_id or kind.startswith("BPMN") or kind in ("Bounds", "waypoint"):
            continue
        element = _Element(kind, (node.get("name") or "").strip(), attrs=dict(node.attrib))
        for child in node:
            child_kind = _local(child.tag)
            if child_kind.endswith("EventDefinition") or child_kind == "eventDefinitionRef":
                element.definitions.append(child_kind)
            elif child_kind == "text" and kind == "textAnnotation":
                element.name = (child.text or "").strip()
            elif child_kind in ("multiInstanceLoopCharacteristics", "standardLoopCharacteristics"):
                element.attrs["_loop"] = child_kind if child.get("isSequential") != "true" else "sequential"
            elif child_kind == "conditionExpression":
                element.attrs["_conditional"] = "1"
        elements[element_id] = element
    return elements


def _bounds(node: etree._Element) -> tuple[float, float, float, float] | None:
    for child in node:
        if _local(child.tag) == "Bounds":
            try:
                x, y, w, h = (float(child.get(k, "nan")) for k in ("x", "y", "width", "height"))
            except ValueError:
                return None
            if all(math.isfinite(v) for v in (x, y, w, h)) and w >= 0 and h >= 0:
                return x, y, w, h
    return None


def _label_bounds(node: etree._Element) -> tuple[float, float, float, float] | None:
    for child in node:
        if _local(child.tag) == "BPMNLabel":
            found = _bounds(child)
            if found is not None and found[2] > 0 and found[3] > 0:
                return found
    return None


def diagrams(xml: str | bytes) -> list[dict[str, str]]:
    """The diagrams of a file (id, name), in file order."""
    root = _parse(xml)
    return [{"id": d.get("id") or "", "name": d.get("name") or ""} for d in root.iter()
            if _local(d.tag) == "BPMNDiagram"]


def _read(root: etree._Element, diagram: str | None) -> tuple[list[_Shape], list[_Edge]]:
    elements = _semantics(root)
    planes = [d for d in root.iter() if _local(d.tag) == "BPMNDiagram" and (diagram is None or d.get("id") == diagram)]
    if not planes:
        raise NoDiagram("the file has no diagram interchange" if diagram is None else f"no diagram {diagram!r}")
    shapes: list[_Shape] = []
    edges: list[_Edge] = []
    for node in planes[0].iter():
        kind = _local(node.tag)
        ref = node.get("bpmnElement") or ""
        element = elements.get(ref, _Element("unknown"))
        if kind == "BPMNShape":
            box = _bounds(node)
            if box is None:
                continue
            expanded = node.get("isExpanded")
            shapes.append(_Shape(ref, element.kind, *box, name=element.name, element=element,
                                 horizontal=node.get("isHorizontal", "true") != "false",
                                 expanded=None if expanded is None else expanded == "true",
                                 label=_label_bounds(node)))
        elif kind == "BPMNEdge":
            points = []
            for child in node:
                if _local(child.tag) == "waypoint":
                    try:
                        point = (float(child.get("x", "nan")), float(child.get("y", "nan")))
                    except ValueError:
                        continue
                    if all(math.isfinite(v) for v in point):
                        points.append(point)
            if len(points) >= 2:
                edges.append(_Edge(ref, element.kind, points, element.name, element, _label_bounds(node)))
    if not shapes and not edges:
        raise NoDiagram("the diagram has no shapes")
    return shapes, edges


# --- text -------------------------------------------------------------------------------------
def _char_width(ch: str, size: float) -> float:
    return size * (1.0 if ord(ch) > 0x2E7F else 0.56)


def wrap(text: str, width: float, size: float, max_lines: int = 6) -> str:
    """Break `text` into lines no wider than `width` (points at `size`); Chinese breaks anywhere."""
    lines: list[str] = []
    for paragraph in text.replace("\r", "").split("\n"):
        line, used = "", 0.0
        for word in _tokens(paragraph):
            w = sum(_char_width(c, size) for c in word)
            if line and used + w > width:
                lines.append(line.rstrip())
                line, used = word.lstrip(), sum(_char_width(c, size) for c in word.lstrip())
            elif not line and w > width:  # a long Latin word alone: cut it
                for ch in word:
                    if line and used + _char_width(ch, size) > width:
                        lines.append(line)
                        line, used = "", 0.0
                    line += ch
                    used += _char_width(ch, size)
            else:
                line, used = line + word, used + w
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][:-1] + "…" if lines[-1] else "…"
    return "\n".join(lines)


def _tokens(paragraph: str) -> list[str]:
    """Words for wrapping: each CJK character on its own, Latin words with their trailing space."""
    tokens: list[str] = []
    for ch in paragraph:
        if ord(ch) > 0x2E7F or not tokens or ord(tokens[-1][-1]) > 0x2E7F or tokens[-1].endswith(" "):
            tokens.append(ch)
        else:
            tokens[-1] += ch
    return tokens


# --- drawing ----------------------------------------------------------------------------------
@dataclass
class _Pen:
    ax: object
    font: FontProperties | None
    visited: frozenset[str]
    current: frozenset[str]

    def style(self, element_id: str) -> tuple[str, str, float]:
        """Fill, ink and line width of a flow node."""
        if element_id in self.current:
            return CURRENT_FILL, CURRENT_INK, 3.0
        if element_id in self.visited:
            return VISITED_FILL, VISITED_INK, 2.0
        return PAPER, INK, 1.2

    def text(self, x: float, y: float, text: str, size: float = 10.0, **kw: object) -> None:
        if text:
            self.ax.text(x, y, text, fontsize=size, fontproperties=self.font, ha=kw.pop("ha", "center"),  # type: ignore[attr-defined]
                         va=kw.pop("va", "center"), zorder=kw.pop("zorder", 6), color=kw.pop("color", INK), **kw)

    # add_artist, not add_patch/plot: the limits are fixed, and updating them per artist
    # was a third of the rendering time.
    def add(self, patch: object) -> None:
        self.ax.add_artist(patch)  # type: ignore[attr-defined]

    def line(self, xs: list[float], ys: list[float], **kw: object) -> None:
        self.ax.add_artist(Line2D(xs, ys, solid_capstyle="round", **kw))  # type: ignore[attr-defined]


def _draw_container(pen: _Pen, s: _Shape) -> None:
    pen.add(Rectangle((s.x, s.y), s.w, s.h, fill=False, ec=INK, lw=1.2, zorder=1))
    band = 30.0
    if s.horizontal:
        if s.kind == "participant" or s.name:
            pen.line([s.x + band, s.x + band], [s.y, s.y + s.h], color=INK, lw=1.0, zorder=1)
        pen.text(s.x + band / 2, s.y + s.h / 2, wrap(s.name, s.h - 10, 11, 2), 11, rotation=90, zorder=2)
    else:
        pen.line([s.x, s.x + s.w], [s.y + band, s.y + band], color=INK, lw=1.0, zorder=1)
        pen.text(s.x + s.w / 2, s.y + band / 2, wrap(s.name, s.w - 10, 11, 2), 11, zorder=2)


def _draw_activity(pen: _Pen, s: _Shape) -> None:
    fill, ink, lw = pen.style(s.element_id)
    expanded = s.kind in SUBPROCESSES and (s.expanded if s.expanded is not None else s.w > 200)
    if s.kind == "callActivity":
        lw = max(lw, 3.0)
    pen.add(FancyBboxPatch((s.x, s.y), s.w, s.h, boxstyle=f"round,pad=0,rounding_size={min(10, s.w / 4, s.h / 4)}",
                           fc=fill if not expanded else "none", ec=ink, lw=lw, zorder=2 if expanded else 4))
    if s.kind == "transaction":
        pen.add(FancyBboxPatch((s.x + 3, s.y + 3), max(s.w - 6, 1), max(s.h - 6, 1),
                               boxstyle="round,pad=0,rounding_size=8", fill=False, ec=ink, lw=1.0, zorder=4))
    if expanded:
        pen.text(s.x + 8, s.y + 8, wrap(s.name, s.w - 16, 10, 2), 10, ha="left", va="top")
        return
    _task_marker(pen, s, ink)
    pen.text(s.x + s.w / 2, s.y + s.h / 2 + 3, wrap(s.name, s.w - 10, 10, max(1, int((s.h - 14) // 12))), 10)
    if s.kind in SUBPROCESSES or s.element.attrs.get("_loop"):
        _bottom_markers(pen, s, ink)


def _task_marker(pen: _Pen, s: _Shape, ink: str) -> None:
    """A small sign of the task type in the top-left corner, as modelling tools draw it."""
    x, y = s.x + 8, s.y + 6
    if s.kind == "userTask":
        pen.add(Circle((x + 6, y + 4), 3.2, fc="none", ec=ink, lw=1.0, zorder=5))
        pen.add(Wedge((x + 6, y + 13), 6, 180, 360, fc="none", ec=ink, lw=1.0, zorder=5))
    elif s.kind == "serviceTask":
        pen.add(Circle((x + 6, y + 6), 5.5, fc="none", ec=ink, lw=1.6, ls=(0, (1.2, 1.2)), zorder=5))
        pen.add(Circle((x + 6, y + 6), 2.2, fc="none", ec=ink, lw=1.0, zorder=5))
    elif s.kind in ("scriptTask", "businessRuleTask"):
        pen.add(Rectangle((x, y), 13, 11, fc="none", ec=ink, lw=1.0, zorder=5))
        if s.kind == "businessRuleTask":
            pen.line([x, x + 13], [y + 3.5, y + 3.5], color=ink, lw=1.0, zorder=5)
            pen.line([x + 4.5, x + 4.5], [y + 3.5, y + 11], color=ink, lw=0.8, zorder=5)
        else:
            for dy in (3, 6, 9):
                pen.line([x + 2.5, x + 10.5], [y + dy, y + dy], color=ink, lw=0.8, zorder=5)
    elif s.kind in ("sendTask", "receiveTask"):
        _envelope(pen, x + 7, y + 5, 7, ink, filled=s.kind == "sendTask")
    elif s.kind == "manualTask":
        pen.add(Rectangle((x, y + 3), 12, 7, fc="none", ec=ink, lw=1.0, zorder=5))


def _bottom_markers(pen: _Pen, s: _Shape, ink: str) -> None:
    cx, by = s.x + s.w / 2, s.y + s.h - 4
    if s.kind in SUBPROCESSES:
        pen.add(Rectangle((cx - 6, by - 12), 12, 12, fill=False, ec=ink, lw=1.0, zorder=5))
        pen.line([cx - 3.5, cx + 3.5], [by - 6, by - 6], color=ink, lw=1.0, zorder=5)
        pen.line([cx, cx], [by - 9.5, by - 2.5], color=ink, lw=1.0, zorder=5)
        cx += 16
    loop = s.element.attrs.get("_loop")
    if loop:
        for i in range(3):
            if loop == "sequential":
                pen.line([cx - 5, cx + 5], [by - 10 + i * 4, by - 10 + i * 4], color=ink, lw=1.3, zorder=5)
            else:
                pen.line([cx - 4 + i * 4, cx - 4 + i * 4], [by - 11, by - 1], color=ink, lw=1.3, zorder=5)


def _envelope(pen: _Pen, cx: float, cy: float, r: float, ink: str, filled: bool) -> None:
    w, h = r * 1.5, r
    pen.add(Rectangle((cx - w / 2, cy - h / 2), w, h, fc=ink if filled else "none", ec=ink, lw=1.0, zorder=7))
    pen.line([cx - w / 2, cx, cx + w / 2], [cy - h / 2, cy + h * 0.1, cy - h / 2],
             color=PAPER if filled else ink, lw=1.0, zorder=8)


def _draw_event(pen: _Pen, s: _Shape) -> None:
    fill, ink, lw = pen.style(s.element_id)
    cx, cy, r = s.x + s.w / 2, s.y + s.h / 2, max(min(s.w, s.h) / 2, 4)
    interrupting = s.element.attrs.get("cancelActivity", "true") != "false" and \
        s.element.attrs.get("isInterrupting", "true") != "false"
    dash = "-" if interrupting else (0, (3, 2))
    if s.kind == "endEvent":
        lw = max(lw, 3.5)
    pen.add(Circle((cx, cy), r, fc=fill, ec=ink, lw=lw, ls=dash, zorder=5))
    if s.kind in ("intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"):
        pen.add(Circle((cx, cy), r - 3, fill=False, ec=ink, lw=1.0, ls=dash, zorder=6))
    throwing = s.kind in ("endEvent", "intermediateThrowEvent")
    kinds = s.element.definitions
    if len(kinds) > 1:
        _polygon(pen, cx, cy, r * 0.5, 5, ink, throwing)
    elif kinds:
        _event_marker(pen, kinds[0], cx, cy, r, ink, throwing)
    _outside_label(pen, s, below=True)


def _polygon(pen: _Pen, cx: float, cy: float, r: float, n: int, ink: str, filled: bool, turn: float = -90) -> None:
    points = [(cx + r * math.cos(math.radians(turn + i * 360 / n)), cy + r * math.sin(math.radians(turn + i * 360 / n)))
              for i in range(n)]
    pen.add(Polygon(points, closed=True, fc=ink if filled else "none", ec=ink, lw=1.0, zorder=7))


def _event_marker(pen: _Pen, kind: str, cx: float, cy: float, r: float, ink: str, filled: bool) -> None:
    m = r * 0.5
    if kind == "timerEventDefinition":
        pen.add(Circle((cx, cy), m * 1.15, fc=PAPER, ec=ink, lw=1.2, zorder=7))
        pen.line([cx, cx], [cy, cy - m * 0.8], color=ink, lw=1.2, zorder=8)
        pen.line([cx, cx + m * 0.6], [cy, cy], color=ink, lw=1.2, zorder=8)
    elif kind == "messageEventDefinition":
        _envelope(pen, cx, cy, m * 1.1, ink, filled)
    elif kind == "signalEventDefinition":
        _polygon(pen, cx, cy + m * 0.15, m * 1.05, 3, ink, filled)
    elif kind == "escalationEventDefinition":
        pen.add(Polygon([(cx, cy - m), (cx + m * 0.7, cy + m * 0.9), (cx, cy + m * 0.3), (cx - m * 0.7, cy + m * 0.9)],
                        closed=True, fc=ink if filled else "none", ec=ink, lw=1.0, zorder=7))
    elif kind == "errorEventDefinition":
        pen.add(Polygon([(cx - m * 0.8, cy + m * 0.9), (cx - m * 0.3, cy - m * 0.8), (cx + m * 0.15, cy + m * 0.2),
                         (cx + m * 0.8, cy - m * 0.9), (cx + m * 0.3, cy + m * 0.8), (cx - m * 0.15, cy - m * 0.2)],
                        closed=True, fc=ink if filled else "none", ec=ink, lw=1.0, zorder=7))
    elif kind == "terminateEventDefinition":
        pen.add(Circle((cx, cy), m * 1.1, fc=ink, ec=ink, zorder=7))
    elif kind == "conditionalEventDefinition":
        pen.add(Rectangle((cx - m * 0.7, cy - m * 0.9), m * 1.4, m * 1.8, fc=PAPER, ec=ink, lw=1.0, zorder=7))
        for dy in (-0.5, 0, 0.5):
            pen.line([cx - m * 0.45, cx + m * 0.45], [cy + dy * m, cy + dy * m], color=ink, lw=0.8, zorder=8)
    elif kind == "linkEventDefinition":
        pen.add(Polygon([(cx - m, cy - m * 0.35), (cx + m * 0.1, cy - m * 0.35), (cx + m * 0.1, cy - m * 0.8),
                         (cx + m, cy), (cx + m * 0.1, cy + m * 0.8), (cx + m * 0.1, cy + m * 0.35),
                         (cx - m, cy + m * 0.35)], closed=True, fc=ink if filled else "none", ec=ink, lw=1.0, zorder=7))
    elif kind == "compensateEventDefinition":
        for dx in (-m * 0.9, 0):
            pen.add(Polygon([(cx + dx, cy), (cx + dx + m * 0.9, cy - m * 0.6), (cx + dx + m * 0.9, cy + m * 0.6)],
                            closed=True, fc=ink if filled else "none", ec=ink, lw=1.0, zorder=7))
    elif kind == "cancelEventDefinition":
        pen.line([cx - m * 0.7, cx + m * 0.7], [cy - m * 0.7, cy + m * 0.7], color=ink, lw=2.5, zorder=7)
        pen.line([cx - m * 0.7, cx + m * 0.7], [cy + m * 0.7, cy - m * 0.7], color=ink, lw=2.5, zorder=7)
    else:  # eventDefinitionRef and anything newer: the "multiple" pentagon
        _polygon(pen, cx, cy, m, 5, ink, filled)


def _draw_gateway(pen: _Pen, s: _Shape) -> None:
    fill, ink, lw = pen.style(s.element_id)
    cx, cy = s.x + s.w / 2, s.y + s.h / 2
    pen.add(Polygon([(cx, s.y), (s.x + s.w, cy), (cx, s.y + s.h), (s.x, cy)], closed=True, fc=fill, ec=ink, lw=lw,
                    zorder=5))
    m = min(s.w, s.h) * 0.22
    if s.kind == "exclusiveGateway":
        pen.line([cx - m * 0.8, cx + m * 0.8], [cy - m, cy + m], color=ink, lw=2.6, zorder=6)
        pen.line([cx - m * 0.8, cx + m * 0.8], [cy + m, cy - m], color=ink, lw=2.6, zorder=6)
    elif s.kind in ("parallelGateway", "complexGateway"):
        pen.line([cx - m, cx + m], [cy, cy], color=ink, lw=2.6, zorder=6)
        pen.line([cx, cx], [cy - m, cy + m], color=ink, lw=2.6, zorder=6)
        if s.kind == "complexGateway":
            pen.line([cx - m * 0.7, cx + m * 0.7], [cy - m * 0.7, cy + m * 0.7], color=ink, lw=2.6, zorder=6)
            pen.line([cx - m * 0.7, cx + m * 0.7], [cy + m * 0.7, cy - m * 0.7], color=ink, lw=2.6, zorder=6)
    elif s.kind == "inclusiveGateway":
        pen.add(Circle((cx, cy), m * 1.1, fill=False, ec=ink, lw=2.4, zorder=6))
    elif s.kind == "eventBasedGateway":
        pen.add(Circle((cx, cy), m * 1.3, fill=False, ec=ink, lw=1.0, zorder=6))
        pen.add(Circle((cx, cy), m * 1.1, fill=False, ec=ink, lw=1.0, zorder=6))
        _polygon(pen, cx, cy, m * 0.7, 5, ink, False)
    _outside_label(pen, s, below=False)


def _draw_data(pen: _Pen, s: _Shape) -> None:
    fold = min(12.0, s.w / 3)
    if s.kind == "dataStoreReference":
        rx = s.h * 0.12
        pen.add(Rectangle((s.x, s.y + rx), s.w, s.h - 2 * rx, fc=PAPER, ec=INK, lw=1.0, zorder=4))
        pen.add(Ellipse((s.x + s.w / 2, s.y + rx), s.w, 2 * rx, fc=PAPER, ec=INK, lw=1.0, zorder=5))
        pen.add(Ellipse((s.x + s.w / 2, s.y + s.h - rx), s.w, 2 * rx, fc=PAPER, ec=INK, lw=1.0, zorder=3))
    else:
        pen.add(Polygon([(s.x, s.y), (s.x + s.w - fold, s.y), (s.x + s.w, s.y + fold), (s.x + s.w, s.y + s.h),
                         (s.x, s.y + s.h)], closed=True, fc=PAPER, ec=INK, lw=1.0, zorder=4))
        pen.line([s.x + s.w - fold, s.x + s.w - fold, s.x + s.w], [s.y, s.y + fold, s.y + fold], color=INK, lw=1.0,
                 zorder=5)
        if s.kind in ("dataInput", "dataOutput"):
            pen.add(Polygon([(s.x + 4, s.y + 6), (s.x + 10, s.y + 6), (s.x + 10, s.y + 3), (s.x + 16, s.y + 9),
                             (s.x + 10, s.y + 15), (s.x + 10, s.y + 12), (s.x + 4, s.y + 12)], closed=True,
                            fc=INK if s.kind == "dataOutput" else "none", ec=INK, lw=0.8, zorder=6))
    _outside_label(pen, s, below=True)


def _draw_other(pen: _Pen, s: _Shape) -> None:
    if s.kind == "textAnnotation":
        pen.line([s.x + 10, s.x, s.x, s.x + 10], [s.y, s.y, s.y + s.h, s.y + s.h], color=INK, lw=1.0, zorder=4)
        pen.text(s.x + 5, s.y + s.h / 2, wrap(s.name, max(s.w - 8, 30), 9, 8), 9, ha="left")
    elif s.kind == "group":
        pen.add(FancyBboxPatch((s.x, s.y), s.w, s.h, boxstyle="round,pad=0,rounding_size=10", fill=False, ec=MUTED,
                               lw=1.2, ls=(0, (6, 3, 1, 3)), zorder=2))
        pen.text(s.x + s.w / 2, s.y + 10, wrap(s.name, s.w, 10, 2), 10, color=MUTED)
    else:
        fill, ink, lw = pen.style(s.element_id)
        pen.add(Rectangle((s.x, s.y), s.w, s.h, fc=fill, ec=ink, lw=lw, zorder=4))
        pen.text(s.x + s.w / 2, s.y + s.h / 2, wrap(s.name, max(s.w - 6, 20), 9, 4), 9)


def _outside_label(pen: _Pen, s: _Shape, below: bool) -> None:
    if not s.name:
        return
    if s.label is not None:
        x, y, w, h = s.label
        pen.text(x + w / 2, y + h / 2, wrap(s.name, max(w + 10, 40), 9), 9)
    elif below:
        pen.text(s.x + s.w / 2, s.y + s.h + 4, wrap(s.name, max(s.w * 2.5, 80), 9), 9, va="top")
    else:
        pen.text(s.x + s.w / 2, s.y - 4, wrap(s.name, max(s.w * 2.5, 80), 9), 9, va="bottom")


def _draw_edge(pen: _Pen, e: _Edge, taken: bool, marking: bool) -> None:
    xs, ys = [p[0] for p in e.points], [p[1] for p in e.points]
    colour = VISITED_INK if taken else (INK if not marking else "#555555")
    lw = 2.4 if taken else 1.1
    if e.kind == "messageFlow":
        pen.line(xs, ys, color=colour, lw=lw, ls=(0, (6, 3)), zorder=3)
        pen.add(Circle(e.points[0], 3.5, fc=PAPER, ec=colour, lw=1.0, zorder=3))
        _arrow(pen, e.points[-2], e.points[-1], colour, filled=False)
    elif e.kind in ("association", "dataInputAssociation", "dataOutputAssociation"):
        pen.line(xs, ys, color=MUTED, lw=1.0, ls=(0, (1.5, 2.5)), zorder=3)
        if e.kind != "association" or e.element.attrs.get("associationDirection") in ("One", "Both"):
            _arrow(pen, e.points[-2], e.points[-1], MUTED, filled=False)
    else:
        pen.line(xs, ys, color=colour, lw=lw, zorder=3)
        _arrow(pen, e.points[-2], e.points[-1], colour, filled=True)
    if e.name:
        if e.label is not None:
            x, y, w, h = e.label
            pen.text(x + w / 2, y + h / 2, wrap(e.name, max(w + 10, 40), 9), 9, color=colour)
        else:
            mid = len(e.points) // 2
            (x1, y1), (x2, y2) = e.points[mid - 1], e.points[mid]
            pen.text((x1 + x2) / 2 + 4, (y1 + y2) / 2 - 4, wrap(e.name, 80, 9), 9, ha="left", va="bottom",
                     color=colour)


def _arrow(pen: _Pen, start: tuple[float, float], end: tuple[float, float], colour: str, filled: bool) -> None:
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = math.hypot(dx, dy)
    if length == 0:
        return
    ux, uy = dx / length, dy / length
    size, half = 10.0, 4.0
    bx, by = end[0] - ux * size, end[1] - uy * size
    left, right = (bx - uy * half, by + ux * half), (bx + uy * half, by - ux * half)
    if filled:
        pen.add(Polygon([end, left, right], closed=True, fc=colour, ec=colour, lw=0.8, zorder=3.5))
    else:
        pen.line([left[0], end[0], right[0]], [left[1], end[1], right[1]], color=colour, lw=1.0, zorder=3.5)


def _legend(pen: _Pen, x: float, y: float, k: float) -> None:
    """The key to the marking, `k` times the normal size (wide diagrams are shown small)."""
    for i, (key, label) in enumerate(LEGEND):
        lx = x + i * 150 * k
        if key == "flow":
            pen.line([lx, lx + 26 * k], [y + 8 * k, y + 8 * k], color=VISITED_INK, lw=2.4 * k, zorder=9)
        else:
            fill, ink, lw = (VISITED_FILL, VISITED_INK, 2.0) if key == "visited" else (CURRENT_FILL, CURRENT_INK, 3.0)
            pen.add(FancyBboxPatch((lx, y), 26 * k, 16 * k, boxstyle=f"round,pad=0,rounding_size={4 * k}", fc=fill,
                                   ec=ink, lw=lw * k, zorder=9))
        pen.text(lx + 34 * k, y + 8 * k, label, 10 * k, ha="left", zorder=9)


def render_png(xml: str | bytes, visited: Iterable[str] = (), current: Iterable[str] = (),
               transitions: Iterable[tuple[str, str]] | None = None, *, diagram: str | None = None,
               max_pixels: int = 4000, legend: bool | None = None) -> bytes:
    """The file's first diagram (or `diagram`) as PNG bytes, with the path taken marked.

    `transitions` are (source id, target id) pairs actually taken; without them a sequence
    flow counts as taken when both its ends were visited. The longest side is at most
    `max_pixels`; the legend shows when anything is marked (unless `legend` says otherwise).

    :raises NoDiagram: not BPMN, or no diagram interchange.
    """
    root = _parse(xml)
    shapes, edges = _read(root, diagram)
    visited_set, current_set = frozenset(visited), frozenset(current)
    marking = bool(visited_set or current_set)
    reached = visited_set | current_set
    pairs = set(transitions) if transitions is not None else None
    xs = [v for s in shapes for v in (s.x, s.x + s.w)] + [p[0] for e in edges for p in e.points]
    ys = [v for s in shapes for v in (s.y, s.y + s.h)] + [p[1] for e in edges for p in e.points]
    ys += [s.y + s.h + 30 for s in shapes if s.kind in EVENTS | DATA and s.label is None and s.name]
    ys += [s.label[1] + s.label[3] for s in shapes if s.label is not None]
    show_legend = marking if legend is None else legend
    margin = 20.0
    x0, x1 = min(xs) - margin, max(xs) + margin
    legend_scale = max(1.0, min(3.0, (x1 - x0) / 1200))
    y0, y1 = min(ys) - margin, max(ys) + margin + (34 * legend_scale if show_legend else 0)
    width, height = max(x1 - x0, 50), max(y1 - y0, 50)
    # One diagram unit is one point; the resolution keeps the longest side within max_pixels.
    dpi = max(1.0, min(150.0, max_pixels * 72.0 / max(width, height)))
    figure = Figure(figsize=(width / 72.0, height / 72.0), dpi=dpi)
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(x0, x0 + width)
    ax.set_ylim(y0 + height, y0)  # the diagram's y axis points down
    ax.set_axis_off()
    ax.set_autoscale_on(False)
    pen = _Pen(ax, chinese_font(), visited_set, current_set)
    for s in sorted(shapes, key=lambda s: -(s.w * s.h)):
        if s.kind in CONTAINERS:
            _draw_container(pen, s)
        elif s.kind in TASKS | SUBPROCESSES:
            _draw_activity(pen, s)
        elif s.kind in EVENTS:
            _draw_event(pen, s)
        elif s.kind in GATEWAYS:
            _draw_gateway(pen, s)
        elif s.kind in DATA | {"dataStoreReference"}:
            _draw_data(pen, s)
        else:
            _draw_other(pen, s)
    for e in edges:
        source, target = e.element.attrs.get("sourceRef", ""), e.element.attrs.get("targetRef", "")
        taken = e.kind == "sequenceFlow" and (
            (source, target) in pairs if pairs is not None else source in reached and target in reached)
        _draw_edge(pen, e, taken, marking)
    if show_legend:
        _legend(pen, x0 + margin, y0 + height - 28 * legend_scale, legend_scale)
    buffer = BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing glyphs when no CJK font is installed
        figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()
