"""Every shipped locale of every topic is complete and prints, final (never a
draft), on one page of A4 and of Letter, with and without a clinic box, at
readable sizes."""

import pytest

from tests.conftest import FONTS, ROOT, ROOT_TOPICS, SHIPPED

CLINIC = ROOT / "examples" / "clinics" / "riverside.toml"
PT_PER_PX = 0.75
# Body text: the lead, the key message and the sections' paragraphs, list
# items and captions, but not the citation numbers or the icon rows' labels.
BODY_PARTS = ("lead", "key")
NOT_BODY = {"cite", "ia-label"}


def test_every_shipped_locale_is_complete():
    from nkhandout import build
    from nkhandout.project import Project

    project = Project.at(ROOT, fonts_dir=FONTS)
    assert sorted(build.available(project)) == sorted(SHIPPED)
    assert sorted(build.complete_locales(project)) == sorted(SHIPPED)
    for topic in ROOT_TOPICS:  # a topic's locales are complete, whichever it has
        bound = project.for_topic(topic)
        assert sorted(build.complete_locales(bound)) == sorted(build.available(bound)), topic


def text_sizes(document):
    """[(text, size in pt, is body text)] of every piece of text laid out."""
    found = []

    def walk(box, body, excluded):
        element = getattr(box, "element", None)
        tag = getattr(box, "element_tag", None)
        if element is not None and tag is not None and not str(tag).endswith(("::marker", "::before", "::after")):
            classes = set((element.get("class") or "").split())
            if tag == "section" and any(c.startswith("s-") for c in classes) or classes & set(BODY_PARTS):
                body = True
            if tag in ("section", "aside", "footer") and not any(c.startswith("s-") for c in classes) \
                    and not classes & set(BODY_PARTS):
                body = False
            if tag == "h2":
                body = False
            excluded = excluded or bool(classes & NOT_BODY)
        if type(box).__name__ == "TextBox" and box.text.strip():
            found.append((box.text, box.style["font_size"] * PT_PER_PX, body and not excluded))
        for child in getattr(box, "children", ()):
            walk(child, body, excluded)

    for page in document.pages:
        walk(page._page_box, False, False)
    return found


@pytest.mark.parametrize("topic", ROOT_TOPICS)
def test_every_shipped_locale_is_one_page_on_a4_and_letter_with_and_without_a_clinic(topic):
    from nkhandout import build, clinic as clinic_lib, render
    from nkhandout.project import Project

    project = Project.at(ROOT, fonts_dir=FONTS, topic=topic)
    inputs = build.load_inputs(project)
    renderer = render.Renderer(project, inputs.manifest)  # one renderer for every page
    clinic = clinic_lib.load(CLINIC)
    for code in build.available(project):
        for paper in ("a4", "letter"):
            for profile in (None, clinic):
                case = (code, paper, "clinic" if profile else "no clinic")
                handout = build.prepare(inputs, code, build.Options(paper=paper), profile)
                assert not handout.draft, case
                document, _html = build.render_one(renderer, handout)  # refuses 2 pages, overruns
                assert len(document.pages) == 1, case
                width = document.pages[0].width * PT_PER_PX
                assert round(width) == {"a4": 595, "letter": 612}[paper], (case, width)
                sizes = text_sizes(document)
                body = [(text, size) for text, size, is_body in sizes if is_body]
                assert len(body) > 20, (case, len(body))
                small = [(text, size) for text, size in body if size < 11.99]
                assert not small, (case, small[:5])
                tiny = [(text, size) for text, size, _ in sizes if size < 7.99]
                assert not tiny, (case, tiny[:5])
                if profile:
                    printed = "".join(text for text, _size, _body in sizes)
                    assert "555" in printed and "0100" in printed, case
