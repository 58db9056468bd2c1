"""The page's building blocks: escaped text, tables, sections, numbers and times in words.

Every cell of every table is text this module escapes (`e`), or markup built
here from escaped text: nothing read from disk enters the page unescaped.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping, Sequence

__all__ = ["e", "figure", "ids", "n", "note", "s", "section", "table", "utc"]

_SHOWN_IDS = 20


def e(text: str) -> str:
    """`text` escaped for HTML text and attribute values (quotes too)."""
    return html.escape(text, quote=True)


def n(value: int) -> str:
    """A count with thousands separators."""
    return f"{value:,}"


def s(seconds: float) -> str:
    """A duration in words a person reads at a glance: 0.0123 s, 4.2 s, 3 min 5 s, 2 h 10 min."""
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def utc(seconds: float) -> str:
    """A Unix time as a UTC date and time to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def ids(values: Sequence[int], shown: int = _SHOWN_IDS) -> str:
    """The first `shown` job ids, and how many more."""
    text = ", ".join(map(str, values[:shown]))
    return text + (f" and {len(values) - shown:,} more" if len(values) > shown else "")


def section(name: str, title: str, content: str) -> str:
    """A titled section; `name` (ours, not user text) is its id."""
    return f'<section id="{name}">\n<h2>{e(title)}</h2>\n{content}\n</section>'


def figure(svgs: Mapping[str, str], name: str, missing: str = "") -> str:
    """The picture `name`, or a note saying why there is none."""
    if name not in svgs:
        return note(missing or "Nothing to draw: the merged results hold no rows.")
    return f'<figure class="{name}">{svgs[name]}</figure>'


def note(text: str) -> str:
    """A grey paragraph of escaped `text` (nothing for no text)."""
    return f'<p class="note">{e(text)}</p>' if text else ""


def table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    """A table of escaped `head` names and ready cells; `numeric` columns align right."""
    header = "".join(f"<th>{e(name)}</th>" for name in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>\n"
        for row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead>\n<tbody>\n{body}</tbody></table>"
