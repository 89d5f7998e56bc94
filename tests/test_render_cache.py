"""One renderer builds many clinics' handouts without keeping each one's
images (and with them the pages that drew them): its image cache stays
bounded, and what it draws does not depend on what it drew before."""

import hashlib

from nkhandout import build, clinic as clinic_lib, render
from tests.conftest import write_profile


def test_image_cache_stays_bounded_and_output_is_the_same(project, tmp_path):
    inputs = build.load_inputs(project)
    renderer = render.Renderer(project, inputs.manifest)
    options = build.Options(paper="letter")
    first = {}
    for number in range(3 * render.IMAGE_CACHE_LIMIT):
        profile = write_profile(tmp_path / f"c{number}", name=f"Clinic {number}", phone="+1 555 0100",
                                website=f"https://example.org/clinic/{number}")
        pdf = build.build_pdf(inputs, renderer, "en", options, clinic_lib.load(profile))
        first[number] = hashlib.sha256(pdf).hexdigest()
        assert len(renderer._images) <= render.IMAGE_CACHE_LIMIT + 2, len(renderer._images)
    # A clinic built again by a fresh renderer, and by this one after many others, gives the same bytes.
    for number in (0, 3 * render.IMAGE_CACHE_LIMIT - 1):
        profile = tmp_path / f"c{number}" / "clinic.toml"
        again = build.build_pdf(inputs, renderer, "en", options, clinic_lib.load(profile))
        fresh = build.build_pdf(inputs, render.Renderer(project, inputs.manifest), "en", options,
                                clinic_lib.load(profile))
        assert hashlib.sha256(again).hexdigest() == hashlib.sha256(fresh).hexdigest() == first[number]
