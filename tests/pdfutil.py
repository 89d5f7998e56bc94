"""Reading facts back out of built PDFs (and of laid-out documents)."""

import pikepdf
import pypdfium2 as pdfium


def text(path):
    """The page's text, in reading order, as a viewer would copy it."""
    document = pdfium.PdfDocument(str(path))
    try:
        page = document[0]
        return page.get_textpage().get_text_range()
    finally:
        document.close()


def _glyphs(operands):
    count = 0
    for operand in operands:
        if isinstance(operand, pikepdf.String):
            count += len(bytes(operand)) // 2 or 1
        elif isinstance(operand, pikepdf.Array):
            count += _glyphs(list(operand))
    return count


def font_sizes_pt(path):
    """{(font BaseFont, size in pt): glyphs drawn at that size}."""
    sizes = {}
    with pikepdf.open(path) as pdf:
        page = pdf.pages[0]
        fonts = {str(k): str(v.BaseFont) for k, v in page.Resources.Font.items()}
        scale = [1.0]
        stack = []
        font = size = None
        for operands, operator in pikepdf.parse_content_stream(page):
            op = str(operator)
            if op == "q":
                stack.append(scale[0])
            elif op == "Q":
                scale[0] = stack.pop() if stack else 1.0
            elif op == "cm":
                scale[0] *= abs(float(operands[0])) or abs(float(operands[1]))
            elif op == "Tf":
                font, size = fonts.get(str(operands[0]), str(operands[0])), float(operands[1])
            elif op in ("Tj", "TJ", "'", '"') and font:
                key = (font, round(size * scale[0], 2))
                sizes[key] = sizes.get(key, 0) + _glyphs(list(operands))
    return sizes


def embedded_fonts(path):
    """{BaseFont: has an embedded font file} for every font on the page."""
    found = {}
    with pikepdf.open(path) as pdf:
        for _name, font in pdf.pages[0].Resources.Font.items():
            descendants = font.get("/DescendantFonts")
            descriptor = (descendants[0] if descendants else font).get("/FontDescriptor")
            keys = set(descriptor.keys()) if descriptor is not None else set()
            found[str(font.BaseFont)] = bool(keys & {"/FontFile", "/FontFile2", "/FontFile3"})
    return found


def page_count(path):
    with pikepdf.open(path) as pdf:
        return len(pdf.pages)


def info(path):
    """Language, title, subject, creation date, media box."""
    with pikepdf.open(path) as pdf:
        return {
            "lang": str(pdf.Root.get("/Lang", "")),
            "title": str(pdf.docinfo.get("/Title", "")),
            "subject": str(pdf.docinfo.get("/Subject", "")),
            "created": str(pdf.docinfo.get("/CreationDate", "")),
            "mediabox": [float(x) for x in pdf.pages[0].MediaBox],
            "marked": bool(pdf.Root.get("/MarkInfo", {}).get("/Marked", False)),
            "struct": "/StructTreeRoot" in pdf.Root,
        }


def render_png(path, target, scale=1.0):
    document = pdfium.PdfDocument(str(path))
    try:
        image = document[0].render(scale=scale).to_pil()
        image.save(target)
        return image
    finally:
        document.close()


def _page_scale(path):
    """The scale WeasyPrint's page matrix applies to text (0.75: px to pt)."""
    with pikepdf.open(path) as pdf:
        scale = 1.0
        for operands, operator in pikepdf.parse_content_stream(pdf.pages[0]):
            if str(operator) == "cm":
                scale *= abs(float(operands[0]))
            elif str(operator) in ("BT", "Tf"):
                break
        return scale


def char_sizes(path):
    """(text, [size in pt of each character]) of the page."""
    import pypdfium2.raw as raw

    scale = _page_scale(path)
    document = pdfium.PdfDocument(str(path))
    try:
        textpage = document[0].get_textpage()
        count = textpage.count_chars()
        chars, sizes = [], []
        for index in range(count):
            chars.append(chr(raw.FPDFText_GetUnicode(textpage, index)))
            sizes.append(raw.FPDFText_GetFontSize(textpage, index) * scale)
        return "".join(chars), sizes
    finally:
        document.close()


def elements(pdf):
    """Every element of an open PDF's structure tree, in document order."""
    root = pdf.Root.get("/StructTreeRoot")
    stack = [root.get("/K")] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, pikepdf.Array):
            stack.extend(reversed(list(node)))
        elif isinstance(node, pikepdf.Dictionary):
            if "/S" in node:
                yield node
            if "/K" in node:
                stack.append(node.K)


def structure(path):
    """The tagged structure: (tags in document order, [(tag, Alt)])."""
    tags, alts = [], []
    with pikepdf.open(path) as pdf:
        for node in elements(pdf):
            tags.append(str(node.S)[1:])
            if "/Alt" in node:
                alts.append((str(node.S)[1:], str(node.Alt)))
    return tags, alts


def line_texts(document):
    """The text of each line box of a laid-out document's first page, in order."""
    found = []

    def walk(box):
        if type(box).__name__ == "LineBox":
            found.append("".join(b.text for b in box.descendants() if isinstance(getattr(b, "text", None), str)))
            return
        for child in getattr(box, "children", []):
            walk(child)

    walk(document.pages[0]._page_box)
    return found
