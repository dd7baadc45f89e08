"""Chunking by symbol, per language, on small inline sources; line windows where there is no grammar."""

from __future__ import annotations

import pytest

from include.index import chunker
from include.index.chunker import chunk_file
from include.index.models import Chunk

PYTHON = '''"""Module docstring."""
import os

LIMIT = 3


@decorator
def parse_header(line):
    """Split a header line."""
    def inner():
        return 1
    return line.split(":")


class Table:
    """A table."""

    border = True

    def draw(self):
        return "+--+"

    class Style:
        def apply(self):
            pass
'''

JAVASCRIPT = """import x from "y";
export function parseHeader(line) {
  return line;
}
const toUpper = (s) => s.toUpperCase();
class Table extends Base {
  constructor(a) { this.a = a; }
  drawBorder() {
    return 2;
  }
}
module.exports = { Table };
"""

TYPESCRIPT = """export interface Options {
  border: string;
}
export class Table<T> {
  private rows: T[] = [];
  addRow(row: T): void {
    this.rows.push(row);
  }
}
export const fmt = function (x: number): string { return ""; };
"""

CSHARP = """using System;
namespace Acme.Billing {
  public class InvoiceService {
    private int _x;
    public InvoiceService(int x) { _x = x; }
    public decimal Total(Invoice i) {
      return 0;
    }
  }
  public interface IService { void Run(); }
}
"""

JAVA = """package a.b;
public class Table {
  private int x;
  public Table() {}
  public String draw(int w) {
    return "";
  }
  enum Kind { A; void m() {} }
}
"""

YAML = """name: build
on:
  push:
    branches: [main]
# the jobs
jobs:
  test:
    runs-on: ubuntu-latest
"""


def _symbols(chunks: list[Chunk]) -> dict[str, str]:
    return {c.symbol: c.kind for c in chunks if c.symbol}


def test_python_symbols_are_qualified_and_kinded() -> None:
    chunks = chunk_file("pkg/mod.py", PYTHON)
    assert _symbols(chunks) == {"parse_header": "function", "Table": "class", "Table.draw": "method",
                                "Table.Style": "class", "Table.Style.apply": "method"}
    assert {c.language for c in chunks} == {"python"}
    parse = next(c for c in chunks if c.symbol == "parse_header")
    assert parse.text.startswith("@decorator") and "def inner" in parse.text  # decorator in, inner fn not split
    assert (parse.start_line, parse.end_line) == (7, 12)
    module = [c for c in chunks if c.kind == "module-part"]
    assert len(module) == 1 and "import os" in module[0].text and module[0].start_line == 1


def test_every_line_with_content_is_in_exactly_one_chunk() -> None:
    lines = PYTHON.splitlines()
    seen: dict[int, int] = {}
    for c in chunk_file("pkg/mod.py", PYTHON):
        assert c.text == "\n".join(lines[c.start_line - 1:c.end_line])
        for row in range(c.start_line, c.end_line + 1):
            seen[row] = seen.get(row, 0) + 1
    content = {i + 1 for i, line in enumerate(lines) if line.strip()}
    assert content <= set(seen) and all(count == 1 for count in seen.values())


def test_javascript_functions_classes_methods_and_arrow_functions() -> None:
    chunks = chunk_file("src/table.js", JAVASCRIPT)
    assert _symbols(chunks) == {"parseHeader": "function", "toUpper": "function", "Table": "class",
                                "Table.constructor": "method", "Table.drawBorder": "method"}
    assert next(c for c in chunks if c.symbol == "parseHeader").text.startswith("export function")
    assert any(c.kind == "module-part" and "module.exports" in c.text for c in chunks)


def test_typescript_interfaces_and_methods() -> None:
    chunks = chunk_file("src/table.ts", TYPESCRIPT)
    assert _symbols(chunks) == {"Options": "class", "Table": "class", "Table.addRow": "method", "fmt": "function"}
    assert {c.language for c in chunks} == {"typescript"}
    assert chunk_file("src/view.tsx", "export function View() { return <div/>; }\n")[0].symbol == "View"


def test_csharp_looks_through_namespaces() -> None:
    chunks = chunk_file("Billing/InvoiceService.cs", CSHARP)
    assert _symbols(chunks) == {"InvoiceService": "class", "InvoiceService.InvoiceService": "method",
                                "InvoiceService.Total": "method", "IService": "class"}
    total = next(c for c in chunks if c.symbol == "InvoiceService.Total")
    assert (total.start_line, total.end_line) == (6, 8)


def test_java_classes_constructors_and_enum_members() -> None:
    chunks = chunk_file("src/main/java/a/b/Table.java", JAVA)
    assert _symbols(chunks) == {"Table": "class", "Table.Table": "method", "Table.draw": "method",
                                "Table.Kind": "class"}  # one-line types stay whole


def test_yaml_top_level_keys() -> None:
    chunks = chunk_file(".github/workflows/ci.yml", YAML)
    assert [(c.symbol, c.kind, c.start_line, c.end_line) for c in chunks] == [
        ("name", "yaml-key", 1, 1), ("on", "yaml-key", 2, 5), ("jobs", "yaml-key", 6, 8)]  # comments trail a key


def test_long_yaml_keys_are_split_into_their_children(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunker, "MAX_CHUNK_LINES", 2)
    symbols = [c.symbol for c in chunk_file("ci.yaml", YAML)]
    assert symbols == ["name", "on", "on.push", "on.push.branches", "", "jobs", "jobs.test"]


def test_files_without_a_grammar_become_overlapping_windows() -> None:
    text = "\n".join(f"line {i}" for i in range(1, 131))
    chunks = chunk_file("docs/guide.md", text)
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 60), (51, 110), (101, 130)]
    assert {(c.kind, c.language, c.symbol) for c in chunks} == {("window", "text", "")}


def test_too_big_or_unparsable_source_falls_back_to_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert chunk_file("broken.py", "def f(:\n  ))) ((( ]]\n  <<<< >>>> {{{\n")[0].kind == "window"
    monkeypatch.setattr(chunker, "MAX_PARSE_BYTES", 10)
    assert {c.kind for c in chunk_file("pkg/mod.py", PYTHON)} == {"window"}


def test_long_symbols_are_cut_and_keep_their_name(monkeypatch: pytest.MonkeyPatch) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(200))
    chunks = chunk_file("big.py", f"def big():\n{body}\n")
    assert [c.symbol for c in chunks] == ["big", "big"]
    assert chunks[0].start_line == 1 and chunks[1].end_line == 201 and chunks[1].start_line <= chunks[0].end_line


def test_blank_files_have_no_chunks() -> None:
    assert chunk_file("empty.py", "\n\n") == []
