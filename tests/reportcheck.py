"""What a clinician reads of a report: its text outside the appendix, and the engine's words found in it.

Reports speak the knowledge base's words outside their appendix ("How hipkb
reasoned"): no rule id, no field path, no snake_case id. These helpers cut a
report (html, md or txt) into what a clinician reads and what the appendix
holds, and list the engine's words left in the former.
"""

from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser

APPENDIX = {"md": "\n## Appendix: how hipkb reasoned\n", "txt": "\nAPPENDIX: HOW HIPKB REASONED\n"}
REFERENCES = {"md": "\n## References\n", "txt": "\nREFERENCES\n=========="}
SNAKE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")


class _Visible(HTMLParser):
    """The text of an HTML page a reader sees, without the appendix (details#how-hipkb-reasoned)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0  # inside <style>, <title>, <script> or the appendix
        self.depth: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("br", "meta", "link", "img", "input"):
            return
        hidden = tag in ("style", "title", "script") or (tag == "details" and attrs.get("id") == "how-hipkb-reasoned")
        self.depth.append("skip" if hidden else tag)
        if hidden:
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("br", "meta", "link", "img", "input") or not self.depth:
            return
        if self.depth.pop() == "skip":
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def read_outside_appendix(text: str, fmt: str) -> str:
    """What a report says outside its appendix (html: the visible text; md, txt: all but the appendix)."""
    if fmt == "html":
        parser = _Visible()
        parser.feed(text)
        return " ".join(" ".join(parser.parts).split())
    start = text.index(APPENDIX[fmt])
    end = text.index(REFERENCES[fmt], start)
    return text[:start] + text[end:]


def engine_words(text: str, kb) -> list[str]:
    """Rule ids, field paths (group.field, group.field=value) and snake_case ids found in *text*."""
    found = [rid for rid in (r.id for r in kb.rules) if re.search(rf"(?<![\w-]){re.escape(rid)}(?![\w-])", text)]
    found += [path for path in kb.vocabulary.fields if re.search(rf"(?<![\w.]){re.escape(path)}\b", text)]
    found += SNAKE.findall(html_lib.unescape(text))
    return sorted(set(found))
