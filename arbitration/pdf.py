"""The award as a PDF (fpdf2), in one language, with the fonts it needs embedded (subset).

DejaVu Sans sets Latin, Greek and Cyrillic; Droid Sans Fallback sets Chinese, Japanese and Korean (both
in ``arbitration/fonts`` with their licences), so Chinese renders on any machine and its text can be
extracted again (each font carries a ToUnicode map). The document's date is the award's, so the same
award always gives the same bytes. Free text (names, reasons) is printed as written.
"""

import datetime as dt
import functools
import zoneinfo
from pathlib import Path

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django_countries import countries
from fpdf import FPDF
from fpdf.enums import WrapMode

from cases.labels import CHOICE_LABELS
from cases.models import Category, Remedy
from cases.money import Money

FONTS = Path(__file__).resolve().parent / "fonts"
MARGIN = 18


def _country(code: str) -> str:
    if not code:
        return "–"
    if code == "odr":
        return _("This platform's online procedure")
    return f"{countries.name(code) or code} ({code})"


def _money(money: dict | None) -> str:
    return f"{money['amount']} {money['currency']}" if money else "–"


def _local(value: dt.datetime | None, tz: str) -> str:
    if value is None:
        return "–"
    local = value.astimezone(zoneinfo.ZoneInfo(tz or "UTC"))
    offset = local.strftime("%z")
    offset = "UTC" if offset in ("", "+0000") else f"UTC{offset[:3]}:{offset[3:]}"
    return f"{local:%Y-%m-%d %H:%M} ({offset})"


LATIN_FONT, LATIN_BOLD_FONT, CJK_FONT = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DroidSansFallbackFull.ttf"


@functools.cache
def _coverage(font: str) -> frozenset[int]:
    """The code points ``font`` has glyphs for (read once per process from the font file)."""
    from fontTools.ttLib import TTFont

    with TTFont(FONTS / font, lazy=True) as ttf:
        return frozenset(ttf.getBestCmap())


def needs_cjk(*texts: str) -> bool:
    """Whether any character needs the CJK font (DejaVu Sans lacks it, Droid Sans Fallback has it)."""
    latin = _coverage(LATIN_FONT)
    return any(ord(char) not in latin for text in texts for char in text or "" if char not in "\n\r\t")


def unprintable(text: str) -> list[str]:
    """The characters of ``text`` that no font of the document can show (emoji, Devanagari, Thai, ...):
    an award must not silently leave out the arbitrator's words, so the service refuses them."""
    covered = _coverage(LATIN_FONT) | _coverage(CJK_FONT)
    return sorted({char for char in text or "" if char not in "\n\r\t" and ord(char) not in covered})


def printable(text: str) -> str:
    """``text`` with what no font can show replaced by U+FFFD, visibly (names and products as typed)."""
    covered = _coverage(LATIN_FONT) | _coverage(CJK_FONT)
    text = (text or "").replace("\t", "    ")
    return "".join(c if c in "\n\r" or ord(c) in covered else "\ufffd" for c in text)


class _Document(FPDF):
    def __init__(self, footer_text: str, *, cjk: bool):
        super().__init__(format="A4")
        self.footer_text = footer_text
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN + 6)
        self.add_font("dejavu", "", str(FONTS / LATIN_FONT))
        self.add_font("dejavu", "B", str(FONTS / LATIN_BOLD_FONT))
        if cjk:  # parsing the CJK font costs ~0.4 s: only when the document has such characters
            self.add_font("cjk", "", str(FONTS / CJK_FONT))
            self.set_fallback_fonts(["cjk"], exact_match=False)
        # HarfBuzz shapes the text: Arabic joins, Hebrew and Arabic run right to left.
        self.set_text_shaping(True)

    def footer(self):
        self.set_y(-MARGIN)
        self.set_font("dejavu", "", 7.5)
        self.set_text_color(90, 90, 90)
        self.multi_cell(0, 3.6, f"{self.footer_text} · {self.page_no()}/{{nb}}", align="C", wrapmode=WrapMode.CHAR)
        self.set_text_color(0, 0, 0)

    def heading(self, text: str, size: float = 11):
        self.ln(2)
        self.set_font("dejavu", "B", size)
        self.multi_cell(0, size * 0.55, printable(text), new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
        self.ln(1)

    def paragraph(self, text: str, size: float = 10):
        self.set_font("dejavu", "", size)
        self.multi_cell(0, size * 0.5, printable(text), new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)

    def fact(self, label: str, value: str):
        self.set_font("dejavu", "B", 9.5)
        width = 52
        y = self.get_y()
        self.multi_cell(width, 5, printable(label), new_x="RIGHT", new_y="TOP", wrapmode=WrapMode.CHAR)
        self.set_font("dejavu", "", 9.5)
        self.multi_cell(0, 5, printable(value), new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
        self.set_y(max(self.get_y(), y + 5))


def render_award(
    award, *, language: str, submissions: dict, default: bool = False, previous_documents: list | None = None
) -> bytes:
    """The PDF of ``award`` (an ``arbitration.models.Award``) in ``language``.

    ``submissions``: how many each party filed (``{"consumer": n, "merchant": m}``); ``default``: the
    merchant stayed silent after the final notice (the award says the arbitration went on without it);
    ``previous_documents``: for a correction, the corrected award's documents (language, SHA-256).
    """
    case = award.case
    with translation.override(language):
        reference_line = _("Case %(reference)s · %(platform)s") % {
            "reference": case.reference,
            "platform": settings.ODR_PLATFORM_NAME,
        }
        footer = _("The SHA-256 of this document is on the case's event log and on the case page: %(url)s") % {
            "url": f"{settings.ODR_BASE_URL}/cases/{case.pk}/"
        }
        free_text = (
            case.consumer.display_name, case.merchant.legal_name, award.arbitrator.display_name, case.order_reference,
            case.order_product, award.reasons, award.correction_note, settings.ODR_PLATFORM_NAME,
        )  # fmt: skip
        pdf = _Document(footer, cjk=language.startswith("zh") or needs_cjk(*free_text))
        pdf.set_title(f"{_('Arbitral award')} {case.reference}")
        pdf.set_author(award.arbitrator.display_name)
        pdf.set_creator(settings.ODR_PLATFORM_NAME)
        pdf.set_lang(language)
        pdf.set_creation_date(award.issued_at.astimezone(dt.UTC))
        pdf.add_page()

        title = _("Arbitral award") if award.corrects_id is None else _("Correction of the arbitral award")
        pdf.set_font("dejavu", "B", 17)
        pdf.multi_cell(0, 9, title, new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
        pdf.set_font("dejavu", "", 10)
        pdf.multi_cell(0, 5, reference_line, new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
        pdf.ln(3)

        pdf.heading(_("The parties and the arbitrator"))
        consumer = case.consumer
        pdf.fact(_("Consumer"), f"{consumer.display_name} ({_country(str(case.consumer_country))})")
        pdf.fact(_("Merchant"), f"{case.merchant.legal_name} ({_country(str(case.merchant_country))})")
        pdf.fact(_("Arbitrator"), str(award.arbitrator.display_name))
        pdf.fact(_("Issued"), _local(award.issued_at, "UTC"))

        pdf.heading(_("The dispute"))
        pdf.fact(_("Order"), f"{case.order_reference}, {case.order_product}, {case.order_date:%Y-%m-%d}")
        pdf.fact(_("Category"), str(Category(case.category).label))
        pdf.fact(_("Claim"), _money(Money(case.claim_amount, case.claim_currency).as_dict()))
        pdf.fact(_("Remedy sought"), str(Remedy(case.remedy).label))
        pdf.fact(_("Forum"), _country(award.forum))
        pdf.fact(_("Applicable law"), _country(award.applicable_law))
        filed = _("consumer: %(consumer)d, merchant: %(merchant)d") % {
            "consumer": submissions.get("consumer", 0),
            "merchant": submissions.get("merchant", 0),
        }
        pdf.fact(_("Submissions considered"), filed)
        if default:
            pdf.paragraph(
                _(
                    "The merchant filed no submission after a final notice; the arbitration proceeded on the "
                    "consumer's claim and the record."
                ),
                size=9,
            )

        pdf.heading(_("Decision"))
        money = None
        if award.amount is not None:
            money = Money(award.amount, award.currency).as_dict()
        pdf.fact(_("Decision"), str(CHOICE_LABELS["decision"][award.decision]))
        if award.decision != "dismissed":
            pdf.fact(_("Amount"), _money(money))
            pdf.fact(_("Remedy"), str(Remedy(award.remedy).label))
            pdf.fact(
                _("Comply by"),
                f"{_local(award.comply_by, case.merchant.time_zone)} · {_local(award.comply_by, 'UTC')}",
            )
        if award.late:
            pdf.paragraph(_("This award was issued after the time set for it."), size=9)

        if award.corrects_id is not None:
            pdf.heading(_("What this correction changes"))
            pdf.paragraph(award.correction_note)
            corrected = award.corrects
            pdf.paragraph(
                _("It corrects award no. %(number)d of %(date)s, whose documents had these SHA-256 hashes:")
                % {"number": corrected.number, "date": _local(corrected.issued_at, "UTC")},
                size=9,
            )
            for language_code, digest in previous_documents or []:
                pdf.paragraph(f"{language_code}: {digest}", size=8)

        pdf.heading(_("Reasons"))
        pdf.paragraph(award.reasons)
        pdf.ln(6)
        pdf.paragraph(
            _(
                "Issued on the platform's online arbitration procedure. The award binds the parties as far as "
                "the applicable law allows; the consumer keeps any right to go to court that the mandatory law of "
                "their country gives them."
            ),
            size=8.5,
        )
        pdf.alias_nb_pages()
        return bytes(pdf.output())
