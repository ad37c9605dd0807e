"""The layout of generated Word documents in the manner of Chinese government documents
(GB/T 9704-2012 党政机关公文格式): A4, the standard margins, a red masthead (红头) with a red rule,
titles in 小标宋, first-level headings in 黑体 (一、), second-level in 楷体 ((一)), body in 仿宋
三号 with fixed 28-point lines, page numbers "— 1 —" at the foot, tables with a repeated,
shaded header row. Used by dispatch_notice and year_end; python-docx only, no template file.

Fonts are named, not embedded: Word and WPS on a government desk have them; elsewhere the
reader substitutes.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from io import BytesIO
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from docx import Document
from docx.document import Document as DocumentType
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Cm, Pt, RGBColor
from docx.text.paragraph import Paragraph

from . import money

TITLE_FONT = "方正小标宋简体"
HEADING_FONT = "黑体"
SUBHEADING_FONT = "楷体_GB2312"
BODY_FONT = "仿宋_GB2312"
TABLE_FONT = "仿宋_GB2312"
RED = RGBColor(0xC0, 0x00, 0x00)
BODY_SIZE = Pt(16)    # 三号
TITLE_SIZE = Pt(22)   # 二号
TABLE_SIZE = Pt(10.5)  # 五号
LINE = Pt(28)
CHINESE_NUMERALS = "一二三四五六七八九十"
# Characters XML 1.0 cannot carry (control characters pasted into a form): dropped, never a 500.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def clean(text: str) -> str:
    return NOT_XML.sub("", text)


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def numeral(n: int) -> str:
    """1 → 一, 12 → 十二 (section numbers up to 99)."""
    if n <= 10:
        return CHINESE_NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    return f"{'' if tens == 1 else CHINESE_NUMERALS[tens - 1]}十{CHINESE_NUMERALS[ones - 1] if ones else ''}"


def wan(yuan: Decimal | float | None) -> str:
    """Yuan shown in 万元 with two decimals, as money is in government reports."""
    return f"{money.wan(yuan):,.2f}"


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _fonts(run_or_style: Any, name: str) -> None:
    run_or_style.font.name = name
    r_pr = run_or_style.element.get_or_add_rPr()
    fonts = r_pr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        r_pr.insert(0, fonts)
    for attribute in ("w:eastAsia", "w:ascii", "w:hAnsi"):
        fonts.set(qn(attribute), name)


class OfficialDocument:
    """A document being written top to bottom; `content()` returns the .docx bytes."""

    def __init__(self, title: str) -> None:
        self.doc: DocumentType = Document()
        self.doc.core_properties.title = title
        self.doc.core_properties.author = ""
        section = self.doc.sections[0]
        section.page_width, section.page_height = Cm(21), Cm(29.7)
        section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
        section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
        normal = self.doc.styles["Normal"]
        _fonts(normal, BODY_FONT)
        normal.font.size = BODY_SIZE
        normal.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        normal.paragraph_format.line_spacing = LINE
        normal.paragraph_format.space_after = Pt(0)
        self._page_numbers()

    # --- the masthead and titles -----------------------------------------------------------------

    def masthead(self, name: str, number_line: str, issuer: str, day: date) -> None:
        """红头: the red name, the issue number, issuer and date on one line, then the red rule."""
        self._line(name, TITLE_FONT, Pt(30), WD_ALIGN_PARAGRAPH.CENTER, colour=RED, bold=False, space=Pt(40))
        self._line(number_line, BODY_FONT, BODY_SIZE, WD_ALIGN_PARAGRAPH.CENTER, space=Pt(14))
        paragraph = self.doc.add_paragraph()
        paragraph.paragraph_format.tab_stops.add_tab_stop(Cm(15.6), alignment=2)  # right tab
        self._run(paragraph, f"{issuer}\t{chinese_date(day)}", BODY_FONT, BODY_SIZE)
        border = OxmlElement("w:pBdr")
        bottom = OxmlElement("w:bottom")
        for key, value in (("w:val", "single"), ("w:sz", "18"), ("w:space", "4"), ("w:color", "C00000")):
            bottom.set(qn(key), value)
        border.append(bottom)
        paragraph._p.get_or_add_pPr().append(border)
        self.doc.add_paragraph()

    def title(self, text: str, subtitle: str | None = None) -> None:
        self._line(text, TITLE_FONT, TITLE_SIZE, WD_ALIGN_PARAGRAPH.CENTER, space=Pt(6), spacing=Pt(36))
        if subtitle:
            self._line(subtitle, SUBHEADING_FONT, BODY_SIZE, WD_ALIGN_PARAGRAPH.CENTER)
        self.doc.add_paragraph()

    def heading(self, number: int, text: str) -> None:
        """一、…… in 黑体, kept on the page of what follows it."""
        paragraph = self._line(f"{numeral(number)}、{text}", HEADING_FONT, BODY_SIZE, indent=True)
        paragraph.paragraph_format.keep_with_next = True

    def subheading(self, number: int, text: str) -> None:
        """（一）…… in 楷体, kept on the page of what follows it."""
        paragraph = self._line(f"（{numeral(number)}）{text}", SUBHEADING_FONT, BODY_SIZE, indent=True)
        paragraph.paragraph_format.keep_with_next = True

    # --- body ------------------------------------------------------------------------------------------

    def paragraph(self, text: str, indent: bool = True) -> Paragraph:
        return self._line(text, BODY_FONT, BODY_SIZE, indent=indent)

    def salutation(self, text: str) -> None:
        self._line(text, BODY_FONT, BODY_SIZE)

    def note(self, text: str) -> None:
        """A small remark under a table or chart (注：……)."""
        self._line(text, BODY_FONT, Pt(12), indent=False, spacing=Pt(20))

    def signature(self, issuer: str, day: date) -> None:
        self.doc.add_paragraph()
        for text in (issuer, chinese_date(day)):
            paragraph = self._line(text, BODY_FONT, BODY_SIZE, WD_ALIGN_PARAGRAPH.RIGHT)
            paragraph.paragraph_format.right_indent = Cm(1.2)

    def picture(self, png: bytes, width_cm: float = 15.0) -> None:
        paragraph = self.doc.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE  # exact spacing clips pictures
        paragraph.add_run().add_picture(BytesIO(png), width=Cm(width_cm))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], widths_cm: Sequence[float] | None = None,
              numeric: Sequence[int] = (), bold_last: bool = False) -> None:
        """A bordered table with a shaded header row repeated on every page; `numeric` columns
        (indexes) are right-aligned; `bold_last` sets a totals row in bold.

        Written as one piece of WordprocessingML and parsed once: python-docx's per-cell API
        costs milliseconds a cell, which a hundred-row list would turn into seconds.
        """
        widths = [int(Cm(w).twips) for w in widths_cm] if widths_cm else [int(Cm(16).twips) // len(headers)] * len(headers)
        style = self.doc.styles["Table Grid"].style_id
        parts = [f'<w:tbl {nsdecls("w")}><w:tblPr><w:tblStyle w:val="{style}"/><w:tblW w:w="0" w:type="auto"/>'
                 '<w:jc w:val="center"/><w:tblLayout w:type="fixed"/><w:tblCellMar><w:top w:w="45" w:type="dxa"/>'
                 '<w:left w:w="80" w:type="dxa"/><w:bottom w:w="45" w:type="dxa"/><w:right w:w="80" w:type="dxa"/>'
                 '</w:tblCellMar></w:tblPr><w:tblGrid>',
                 "".join(f'<w:gridCol w:w="{w}"/>' for w in widths), "</w:tblGrid>",
                 '<w:tr><w:trPr><w:tblHeader/></w:trPr>',
                 "".join(_cell_xml(text, width, HEADING_FONT, "center", shade=True) for text, width in zip(headers, widths)),
                 "</w:tr>"]
        for index, values in enumerate(rows):
            bold = bold_last and index == len(rows) - 1
            parts.append("<w:tr>")
            parts.extend(_cell_xml("" if value is None else str(value), width, TABLE_FONT,
                                   "right" if column in numeric else "left", bold=bold)
                         for column, (value, width) in enumerate(zip(values, widths)))
            parts.append("</w:tr>")
        parts.append("</w:tbl>")
        self.doc.element.body._insert_tbl(parse_xml("".join(parts)))
        self.doc.add_paragraph().paragraph_format.line_spacing = Pt(8)

    def content(self) -> bytes:
        buffer = BytesIO()
        self.doc.save(buffer)
        return buffer.getvalue()

    # --- pieces ------------------------------------------------------------------------------------------

    def _run(self, paragraph: Paragraph, text: str, font: str, size: Pt, colour: RGBColor | None = None,
             bold: bool = False) -> Any:
        run = paragraph.add_run(clean(text))
        _fonts(run, font)
        run.font.size = size
        run.font.bold = bold
        if colour is not None:
            run.font.color.rgb = colour
        return run

    def _line(self, text: str, font: str, size: Pt, align: Any = None, colour: RGBColor | None = None,
              bold: bool = False, indent: bool = False, space: Pt | None = None, spacing: Pt | None = None
              ) -> Paragraph:
        paragraph = self.doc.add_paragraph()
        if align is not None:
            paragraph.alignment = align
        if indent:
            paragraph.paragraph_format.first_line_indent = Pt(size.pt * 2)  # two characters
        if space is not None:
            paragraph.paragraph_format.space_after = space
        if spacing is not None or size.pt > LINE.pt:
            paragraph.paragraph_format.line_spacing = spacing or Pt(size.pt * 1.3)
        self._run(paragraph, text, font, size, colour, bold)
        return paragraph

    def _page_numbers(self) -> None:
        footer = self.doc.sections[0].footer.paragraphs[0]
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
        self._run(footer, "— ", BODY_FONT, Pt(14))
        field = OxmlElement("w:fldSimple")
        field.set(qn("w:instr"), "PAGE")
        run = OxmlElement("w:r")
        text = OxmlElement("w:t")
        text.text = "1"
        run.append(text)
        field.append(run)
        footer._p.append(field)
        self._run(footer, " —", BODY_FONT, Pt(14))


def _cell_xml(text: str, width: int, font: str, align: str, bold: bool = False, shade: bool = False) -> str:
    """One table cell: single-spaced, centred vertically, the table font at 五号."""
    shading = '<w:shd w:val="clear" w:color="auto" w:fill="D9D9D9"/>' if shade else ""
    size = int(TABLE_SIZE.pt * 2)  # half-points
    run = (f'<w:rPr><w:rFonts w:ascii="{font}" w:hAnsi="{font}" w:eastAsia="{font}"/>{"<w:b/>" if bold else ""}'
           f'<w:sz w:val="{size}"/><w:szCs w:val="{size}"/></w:rPr>')
    return (f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/>{shading}<w:vAlign w:val="center"/></w:tcPr>'
            f'<w:p><w:pPr><w:spacing w:line="240" w:lineRule="auto"/><w:ind w:firstLine="0"/><w:jc w:val="{align}"/></w:pPr>'
            f'<w:r>{run}<w:t xml:space="preserve">{escape(clean(text))}</w:t></w:r></w:p></w:tc>')
