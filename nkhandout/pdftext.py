"""Whole-line text in the PDF for scripts that draw their glyphs out of order.

In Devanagari, Bengali and Gurmukhi a vowel sign may be drawn before the
consonant it follows, and a conjunct is one glyph for several letters. Read
glyph by glyph (copying, searching, screen readers), such a line comes out
scrambled. For the locales whose [locale] entry in templates/fonts.toml says
``actual_text = true``, each drawn line is wrapped in a marked-content span
whose /ActualText is the line's text as written."""

_LANGUAGES = set()  # locale codes and languages whose lines carry /ActualText


def enable(manifest):
    """Wrap the lines of ``manifest``'s actual_text locales (before drawing)."""
    _LANGUAGES.update(key for key, entry in (manifest.locales or {}).items() if entry.get("actual_text"))
    from weasyprint.draw import text

    if getattr(text.draw_first_line, "_nkhandout_patched", False):
        return
    original = text.draw_first_line

    def draw_first_line(stream, textbox, *args, **kwargs):
        lang = (textbox.style["lang"] or "").replace("-", "_")
        if not textbox.text.strip() or not (lang in _LANGUAGES or lang.split("_")[0] in _LANGUAGES):
            return original(stream, textbox, *args, **kwargs)
        import pydyf

        stream.begin_marked_content("Span", pydyf.Dictionary({"ActualText": pydyf.String(textbox.text)}))
        try:
            return original(stream, textbox, *args, **kwargs)
        finally:
            stream.end_marked_content()

    draw_first_line._nkhandout_patched = True
    text.draw_first_line = draw_first_line
