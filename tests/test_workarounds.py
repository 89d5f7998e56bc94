"""WeasyPrint workarounds refuse versions they were not written for."""

import pytest
import weasyprint

from nkhandout import workarounds
from nkhandout.errors import HandoutError


def test_installed_weasyprint_is_one_the_patches_were_written_for():
    workarounds.check_version(weasyprint.__version__)


@pytest.mark.parametrize("version", ["69.0", "71.0", "100.1"])
def test_other_versions_are_refused_in_one_line(version):
    with pytest.raises(HandoutError) as caught:
        workarounds.check_version(version)
    assert f"WeasyPrint {version} is not a version" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_patch_is_installed_once():
    workarounds.install()
    from weasyprint.pdf import fonts

    first = fonts.Font.__init__
    workarounds.install()
    assert fonts.Font.__init__ is first and fonts.Font._nkhandout_patched
