"""Sphinx extension of the book: fold the parameters cell that papermill injected.

``make reproduce`` runs each chapter through papermill, which adds a cell tagged
``injected-parameters`` holding the values the chapter ran with (the stored defaults are then
removed from the page). This extension adds ``hide-input`` to that cell when Sphinx reads the
executed notebook, so the page shows the values behind a fold instead of as code above the results.
"""

from __future__ import annotations

import json

FOLD = "hide-input"


def fold_injected_parameters(source: str) -> str:
    """The notebook JSON ``source`` with ``hide-input`` added to its ``injected-parameters`` cell."""
    notebook = json.loads(source)
    changed = False
    for cell in notebook.get("cells", []):
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags and FOLD not in tags:
            tags.append(FOLD)
            changed = True
    return json.dumps(notebook) if changed else source


def _on_source_read(app, docname: str, content: list[str]) -> None:
    if str(app.env.doc2path(docname)).endswith(".ipynb"):
        content[0] = fold_injected_parameters(content[0])


def setup(app):
    app.connect("source-read", _on_source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
