"""A griffe extension (for the documentation site): attribute docs written as
``#:`` comments above the attribute, the Sphinx convention fleetsim's code uses,
become the attribute's docstring in the API reference."""

from __future__ import annotations

from pathlib import Path

from griffe import Docstring, Extension


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
            attr.docstring = Docstring("\n".join(doc), lineno=i + 2, parent=attr)
