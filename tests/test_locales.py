"""Locale codes, direction and paper."""

import pytest

from nkhandout import locales, paper
from nkhandout.errors import UsageError

AVAILABLE = ["en", "es", "pt_BR", "zh_Hans", "ar"]


@pytest.mark.parametrize("typed, expected", [
    ("pt-BR", "pt_BR"), ("pt_br", "pt_BR"), ("PT-br", "pt_BR"),
    ("zh-Hans", "zh_Hans"), ("zh_hans", "zh_Hans"), ("ES", "es"),
])
def test_both_spellings_and_any_case_resolve(typed, expected):
    assert locales.resolve(typed, AVAILABLE) == expected


@pytest.mark.parametrize("typed", ["xx", "../../etc", "es/../../x", "", "e s"])
def test_unknown_codes_are_refused_with_the_list(typed):
    with pytest.raises(UsageError, match="available: ar, en, es, pt_BR, zh_Hans"):
        locales.resolve(typed, AVAILABLE)


@pytest.mark.parametrize("code, territory, size", [
    ("en", "US", "letter"), ("es", "ES", "a4"), ("es_MX", "MX", "letter"), ("pt_BR", "BR", "a4"),
    ("zh_Hans", "CN", "a4"), ("ar", "EG", "a4"), ("fr_CA", "CA", "letter"), ("ko", "KR", "a4"),
])
def test_paper_follows_cldr_territory_or_likely_subtags(code, territory, size):
    info = locales.info(code)
    assert (info.territory, info.paper) == (territory, size)


@pytest.mark.parametrize("territory, size", [
    ("us", "letter"), ("PH", "letter"), ("CA", "letter"), ("GB", "a4"), ("DE", "a4"), ("AU", "a4"),
    ("", "a4"), (None, "a4"),
])
def test_paper_for_territory_any_case_and_unknown(territory, size):
    assert paper.for_territory(territory) == size


def test_direction_comes_from_babel():
    assert locales.info("ar").direction == "rtl"
    assert locales.info("ar").lang_tag == "ar"
    assert locales.info("zh_Hans").lang_tag == "zh-Hans"
    assert locales.info("es").direction == "ltr"
