"""Paper sizes, and which one a territory uses.

Babel ships no paper-size data, so the one table needed is kept here. Source:
CLDR supplemental data, supplementalMeasurementData.xml, <paperSize>
(unicode-org/cldr, common/supplemental): US-Letter for the territories below,
A4 for the world ("001").
"""

# CLDR <paperSize type="US-Letter" territories="...">
LETTER_TERRITORIES = frozenset(
    "BZ CA CL CO CR GT MX NI PA PH PR SV US VE".split()
)

# Width and height in PostScript points.
SIZES = {
    "a4": (595, 842),   # 210 x 297 mm
    "letter": (612, 792),  # 8.5 x 11 in
}

CSS_NAMES = {"a4": "A4", "letter": "letter"}


def for_territory(territory: str | None) -> str:
    """The paper ("a4" or "letter") that ``territory`` (ISO 3166) prints on."""
    return "letter" if (territory or "").upper() in LETTER_TERRITORIES else "a4"
