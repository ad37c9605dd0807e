"""Chart images (PNG) for the generated documents: the dispatch notice and the year-end summaries.

Drawn with matplotlib's object API (Figure + the Agg canvas, never pyplot), so charts drawn by
several web threads at once share no global figure state. Chinese labels need a CJK font:
WenQuanYi Micro Hei (Debian's fonts-wqy-microhei) is looked up through matplotlib's font
manager; without it the charts still render, with missing glyphs shown as boxes.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from io import BytesIO
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager
from matplotlib.ticker import FuncFormatter, MaxNLocator

log = logging.getLogger(__name__)

CJK_FONT_NAMES = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Source Han Sans SC",
                  "SimHei", "Microsoft YaHei")
CJK_FONT_FILE = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
# Government-document colours: red for what is owed or late, a sober blue and grey otherwise.
COLOURS = ("#c00000", "#2f5597", "#7f7f7f", "#bf9000", "#548235")
DPI = 150
WIDTH_INCHES = 7.0


@lru_cache(maxsize=1)
def cjk_font() -> FontProperties | None:
    """The first installed CJK font, or None (charts then fall back to matplotlib's default)."""
    for font in fontManager.ttflist:
        if font.name in CJK_FONT_NAMES:
            return FontProperties(fname=font.fname)
    if _readable(CJK_FONT_FILE):
        return FontProperties(fname=CJK_FONT_FILE)
    log.warning("no Chinese font found for charts; install fonts-wqy-microhei")
    return None


def _readable(path: str) -> bool:
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


def _font(size: float) -> dict[str, Any]:
    font = cjk_font()
    if font is None:
        return {"fontsize": size}
    sized = font.copy()
    sized.set_size(size)
    return {"fontproperties": sized}


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = BytesIO()
    # Fast zlib: a tenth of a second less per chart; the .docx holds a few of them.
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def _frame(title: str, height: float) -> tuple[Figure, Any]:
    figure = Figure(figsize=(WIDTH_INCHES, height))
    axes = figure.add_subplot(1, 1, 1)
    axes.set_title(title, **_font(13))
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return figure, axes


def _empty(axes: Any) -> None:
    axes.text(0.5, 0.5, "暂无数据", ha="center", va="center", transform=axes.transAxes, color="#7f7f7f", **_font(14))
    axes.set_xticks([])
    axes.set_yticks([])


def _legend(axes: Any, count: int) -> None:
    if count > 1:
        font = cjk_font()
        # Outside the plot, right of it: never on top of a bar or a line.
        axes.legend(prop=font.copy() if font else None, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _tick_labels(axes: Any, axis: str, labels: Sequence[str]) -> None:
    setter = axes.set_xticklabels if axis == "x" else axes.set_yticklabels
    setter(labels, **_font(9))


def bar_chart(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
              unit: str = "", horizontal: bool = False) -> bytes:
    """Grouped bars: one group per label, one bar per series; values written at the bar ends."""
    count = max(1, len(labels))
    height = max(3.2, 0.42 * count * max(1, len(series)) + 1.2) if horizontal else 3.8
    figure, axes = _frame(title, height)
    if not labels or not any(any(values) for _, values in series):
        _empty(axes)
        return _png(figure)
    width = 0.8 / max(1, len(series))
    positions = list(range(len(labels)))
    for index, (name, values) in enumerate(series):
        offsets = [p - 0.4 + width * (index + 0.5) for p in positions]
        colour = COLOURS[index % len(COLOURS)]
        if horizontal:
            bars = axes.barh(offsets, values, height=width, label=name, color=colour)
        else:
            bars = axes.bar(offsets, values, width=width, label=name, color=colour)
        axes.bar_label(bars, labels=[_number(v) for v in values], padding=2, **_font(7.5))
    if horizontal:
        axes.set_yticks(positions)
        _tick_labels(axes, "y", labels)
        axes.invert_yaxis()  # the first label on top, as in the tables
        if unit:
            axes.set_xlabel(unit, **_font(9))
        _values_axis(axes.xaxis, bins=5)  # long numbers side by side: fewer of them
        axes.margins(x=0.12)
    else:
        axes.set_xticks(positions)
        _tick_labels(axes, "x", labels)
        if len(labels) > 6:
            for tick in axes.get_xticklabels():
                tick.set_rotation(30)
                tick.set_horizontalalignment("right")
        if unit:
            axes.set_ylabel(unit, rotation=0, labelpad=12, **_font(9))
        _values_axis(axes.yaxis)
        axes.margins(y=0.12)
    _legend(axes, len(series))
    return _png(figure)


def line_chart(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
               unit: str = "") -> bytes:
    """One line per series over the labels (weeks); long runs show every n-th label."""
    figure, axes = _frame(title, 3.6)
    if not labels:
        _empty(axes)
        return _png(figure)
    positions = list(range(len(labels)))
    for index, (name, values) in enumerate(series):
        axes.plot(positions, values, marker="o", markersize=3.5, linewidth=1.8, label=name,
                  color=COLOURS[index % len(COLOURS)])
    step = max(1, -(-len(labels) // 12))
    axes.set_xticks(positions[::step])
    _tick_labels(axes, "x", list(labels)[::step])
    for tick in axes.get_xticklabels():
        tick.set_rotation(30)
        tick.set_horizontalalignment("right")
    if unit:
        axes.set_ylabel(unit, rotation=0, labelpad=12, **_font(9))
    _values_axis(axes.yaxis)
    axes.set_ylim(bottom=0)
    axes.grid(axis="y", color="#d9d9d9", linewidth=0.6)
    _legend(axes, len(series))
    return _png(figure)


def _values_axis(axis: Any, bins: int | str = "auto") -> None:
    """Whole-number ticks written out with thousands separators (never "1e6")."""
    axis.set_major_locator(MaxNLocator(nbins=bins, integer=True))
    axis.set_tick_params(labelsize=8)
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))


def _number(value: float) -> str:
    if not value:
        return ""
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.1f}"
