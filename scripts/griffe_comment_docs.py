"""A griffe extension (for the documentation site) that reads fleetsim's docstrings
as they are written: attribute docs written as ``#:`` comments above the attribute
(the Sphinx convention) become the attribute's docstring, and Sphinx roles
(``:class:`~x.Y```, ``:data:`X```) become plain code (``Y``, ``X``)."""

from __future__ import annotations

import re
from pathlib import Path

from griffe import Docstring, Extension

ROLE = re.compile(r":(?:py:)?(?:class|data|meth|func|mod|attr|exc|obj|const):`~?([^`]+)`")


def _plain(text: str) -> str:
    """Sphinx roles as Markdown code; ``~`` keeps the last dotted part."""
    def code(m: re.Match) -> str:
        name = m.group(1)
        return f"`{name.rsplit('.', 1)[-1] if m.group(0).find('`~') >= 0 else name}`"
    return ROLE.sub(code, text).replace("``", "`")


class CommentDocs(Extension):
    def __init__(self) -> None:
        self._lines: dict[Path, list[str]] = {}

    def on_attribute_instance(self, *, node, attr, agent, **kwargs) -> None:
        if attr.docstring is not None or not attr.lineno:
            return
        path = attr.filepath
        if isinstance(path, list) or path is None:
            return
        if path not in self._lines:
            self._lines[path] = Path(path).read_text().splitlines()
        lines = self._lines[path]
        doc = []
        i = attr.lineno - 2
        while i >= 0 and lines[i].strip().startswith("#:"):
            doc.insert(0, lines[i].strip()[2:].strip())
            i -= 1
        if doc:
            attr.docstring = Docstring(_plain("\n".join(doc)), lineno=i + 2, parent=attr)

    def on_instance(self, *, node, obj, agent, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _plain(obj.docstring.value)
