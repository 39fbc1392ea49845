"""Tables as the book shows them: no index column, numbers with a fixed number of decimals.

:func:`table` turns a frame (or a mapping of name -> value) into an object that Jupyter and the
book render as a Markdown table; :func:`fields` turns a record (one run, one measurement) into a
two-column table of name and value.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import pandas as pd

__all__ = ["Table", "fields", "format_value", "table"]


def format_value(value: object, decimals: int = 2) -> str:
    """``value`` as table text: floats with ``decimals`` decimals, NaN and None as empty, integers
    and text as they are."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return "" if math.isnan(float(value)) else f"{float(value):.{decimals}f}"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class Table:
    """A table shown without its index: Markdown for Jupyter and the book, plain text elsewhere.

    ``frame`` holds the already formatted text of every cell (see :func:`table`).
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def markdown(self) -> str:
        """The table as a GitHub-flavoured Markdown table (header, alignment row, one line per row)."""
        columns = [str(c) for c in self.frame.columns]
        numeric = [bool(len(self.frame)) and self.frame[c].map(_looks_numeric).all() for c in self.frame.columns]
        lines = ["| " + " | ".join(_cell(c) for c in columns) + " |"]
        lines.append("|" + "|".join("---:" if right else ":---" for right in numeric) + "|")
        lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in self.frame.itertuples(index=False)]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __repr__(self) -> str:
        return self.frame.to_string(index=False)


def _looks_numeric(text: str) -> bool:
    head = text.split(" ± ")[0].replace("%", "").strip()
    if not head:
        return True
    try:
        float(head)
    except ValueError:
        return False
    return True


def table(
    data: pd.DataFrame | pd.Series | Mapping[str, object],
    decimals: int | Mapping[str, int] = 2,
    *,
    columns: Mapping[str, str] | None = None,
    index: str | None = None,
) -> Table:
    """``data`` as a :class:`Table`: no index, each float with ``decimals`` decimals (one number for
    all columns, or per column name, default 2), ``columns`` renaming columns for the reader.

    The index is dropped unless it carries the row names: ``index`` then names the first column
    that holds it. Column levels are joined by a space. A Series or a mapping becomes a one-row
    table with its keys as columns.
    """
    if isinstance(data, pd.Series):
        data = data.to_frame().T
    elif not isinstance(data, pd.DataFrame):
        data = pd.DataFrame([dict(data)])
    if isinstance(data.columns, pd.MultiIndex):
        data = data.set_axis([" ".join(str(part) for part in column if str(part)) for column in data.columns], axis=1)
    if index is not None:
        data = data.rename_axis(index).reset_index()
    text = pd.DataFrame(
        {
            column: [
                format_value(value, decimals.get(str(column), 2) if isinstance(decimals, Mapping) else decimals)
                for value in data[column]
            ]
            for column in data.columns
        }
    )
    if columns:
        text = text.rename(columns=dict(columns))
    return Table(text)


def fields(record: Mapping[str, object], decimals: int | Mapping[str, int] = 2, *, header: tuple[str, str] = ("", "value")) -> Table:
    """A record (e.g. one run: name -> value) as a two-column table, one row per field, in order."""
    names, values = header
    rows = [
        {names: name, values: format_value(value, decimals.get(name, 2) if isinstance(decimals, Mapping) else decimals)}
        for name, value in record.items()
    ]
    return Table(pd.DataFrame(rows, columns=[names, values]))
