"""The documentation pages as data: their Markdown tables and the code spans in them."""

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_CODE_SPAN = re.compile(r"`([^`]+)`")
_FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Table:
    page: str
    heading: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def column(self, name: str) -> list[str]:
        """Return the cells of the column headed ``name``."""
        index = self.header.index(name)
        return [row[index] for row in self.rows]


def _cells(line: str) -> tuple[str, ...]:
    """Split a table line at the pipes that are not inside a code span."""
    cells: list[str] = []
    current: list[str] = []
    in_code = False
    for char in line.strip().strip("|"):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    cells.append("".join(current).strip())
    return tuple(cells)


def page_text(page: str) -> str:
    return (DOCS / page).read_text()


def tables(page: str) -> list[Table]:
    """Return every table on ``page``, with the heading it stands under."""
    found, heading, block = [], "", []
    for line in [*page_text(page).splitlines(), ""]:
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.startswith("|"):
            block.append(line)
            continue
        if len(block) >= 2:
            header, *rows = (_cells(row) for row in block if not re.fullmatch(r"[|\s:-]+", row))
            found.append(Table(page, heading, header, tuple(rows)))
        block = []
    return found


def tables_with(page: str, column: str) -> list[Table]:
    """Return the tables on ``page`` that have a column headed ``column``."""
    return [table for table in tables(page) if column in table.header]


def code_spans(text: str) -> list[str]:
    """Return the contents of the code spans in ``text``, leaving fenced code blocks out."""
    return _CODE_SPAN.findall(_FENCED.sub("", text))


def first_code_word(cell: str) -> str:
    """Return the first word of the first code span in ``cell`` (a command or variable name)."""
    spans = code_spans(cell)
    assert spans, f"no code span in table cell {cell!r}"
    return spans[0].split()[0]


# A fenced block with a file name: ```python title="app.py"``` (mkdocs-material shows the title).
_TITLED_BLOCK = re.compile(r'^```[\w-]*\s+title="([^"]+)"[^\n]*\n(.*?)^```', re.MULTILINE | re.DOTALL)


def titled_blocks(page: str) -> dict[str, str]:
    """Return the fenced blocks of ``page`` that carry a ``title`` (a file name), by that name."""
    blocks: dict[str, str] = {}
    for name, body in _TITLED_BLOCK.findall(page_text(page)):
        assert name not in blocks, f"{page} shows {name} twice"
        blocks[name] = body
    return blocks
