"""How the read commands print: aligned text tables, or JSON for scripts.

Every read command takes ``--format table|json``; JSON output is one
document on stdout (a list for list commands), with datetimes in ISO 8601.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
from collections.abc import Sequence
from typing import Any, TextIO


def add_format_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--format table|json``."""
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="human-readable table (default) or JSON for scripts",
    )


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(document: Any, stream: TextIO | None = None) -> None:
    """Write ``document`` as indented JSON."""
    out = stream or sys.stdout
    json.dump(document, out, indent=2, default=_default, ensure_ascii=False)
    out.write("\n")


def cell(value: Any) -> str:
    """One table cell: datetimes without microseconds, None as empty."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat()
    return str(value).replace("\n", " ")


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], stream: TextIO | None = None
) -> None:
    """Write rows under headers in aligned columns.

    On a terminal the last column is cut to fit its width; piped output
    (grep, files) keeps every character.
    """
    out = stream or sys.stdout
    text = [[cell(value) for value in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in text)]) for i, h in enumerate(headers)]
    if out.isatty():
        room = shutil.get_terminal_size((160, 24)).columns - sum(w + 2 for w in widths[:-1])
        widths[-1] = max(len(headers[-1]), min(widths[-1], room))

    def line(values: Sequence[str]) -> str:
        last = values[-1]
        if len(last) > widths[-1]:
            last = last[: max(widths[-1] - 1, 0)] + "…"
        padded = [v.ljust(w) for v, w in zip(values[:-1], widths, strict=False)]
        return "  ".join([*padded, last]).rstrip()

    out.write(line(list(headers)) + "\n")
    out.write(line(["-" * w for w in widths]) + "\n")
    for row in text:
        out.write(line(row) + "\n")


def print_fields(fields: Sequence[tuple[str, Any]], stream: TextIO | None = None) -> None:
    """Write ``name: value`` lines, names aligned."""
    out = stream or sys.stdout
    width = max((len(name) for name, _ in fields), default=0)
    for name, value in fields:
        out.write(f"{name.ljust(width)}  {cell(value)}\n")
