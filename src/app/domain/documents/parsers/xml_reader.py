"""Reading untrusted XML safely: no network, no entity expansion, no DTDs, no huge trees.

Bounds: at most ``MAX_XML_TAGS`` tags (counted in the bytes before parsing, so a file of millions of
tiny elements never becomes a tree), nesting at most ``MAX_XML_DEPTH`` levels and text nodes at most
10 MB (libxml2 without huge trees), and no entity expansion at all.
"""

from __future__ import annotations

import io
import re

from lxml import etree

from app.domain.budgets.records import DocumentParseError

from .limits import MAX_XML_DEPTH, MAX_XML_TAGS, too_large

_POSITION_SUFFIX = re.compile(r",?\s*line \d+, column \d+\s*$")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes) -> etree._Element:
    """The document's root element; a broken or unsafe file raises ``DocumentParseError``."""
    tags = data.count(b"<")
    if tags > MAX_XML_TAGS:
        raise too_large("The XML file's number of tags", tags, MAX_XML_TAGS)
    try:
        tree = etree.parse(io.BytesIO(data), _parser())
    except etree.XMLSyntaxError as exc:
        raise DocumentParseError(_syntax_message(exc)) from exc
    if tree.docinfo.doctype:
        raise DocumentParseError("XML with a DOCTYPE declaration is not accepted (budget exports have none)")
    return tree.getroot()


def root_name(data: bytes) -> str | None:
    """The local name of the root element, read from the start of the file only; ``None`` if unreadable."""
    events = etree.iterparse(
        io.BytesIO(data),
        events=("start",),
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
    )
    try:
        for _event, element in events:
            return etree.QName(element).localname
    except etree.XMLSyntaxError:
        return None
    return None


def _syntax_message(exc: etree.XMLSyntaxError) -> str:
    line, column = exc.position if exc.position else (exc.lineno, None)
    detail = _POSITION_SUFFIX.sub("", (exc.msg or str(exc)).strip())
    if "excessive depth" in detail.casefold():
        detail = f"elements are nested deeper than {MAX_XML_DEPTH} levels (budget exports nest about 20)"
    elif "huge" in detail.casefold():
        detail = "a text node is larger than 10 MB"
    where = f" at line {line}" if line else ""
    where += f", column {column}" if line and column else ""
    return f"XML is not well-formed{where}: {detail}"


def child_text(element: etree._Element, name: str) -> str:
    """Trimmed text of the first direct child called ``name`` ("" when absent or empty)."""
    child = element.find(name)
    if child is None or child.text is None:
        return ""
    return child.text.strip()


def local_name(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def strip_namespaces(root: etree._Element) -> None:
    """Rename ``{ns}tag`` to ``tag`` in place, so lookups by plain names work on namespaced exports."""
    if not isinstance(root.tag, str) or not root.tag.startswith("{"):
        return
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith("{"):
            element.tag = element.tag.rsplit("}", 1)[1]
