"""Source text -> chunks, one per symbol.

Top-level functions, classes and their methods (nested classes too, qualified `Outer.Inner.method`) are chunks;
a function's inner functions stay inside it, since they are read with it. What lies between symbols (imports,
constants, a class's fields and docstring) becomes `module-part` chunks, or `class` chunks inside a class, so every
line with content is in exactly one chunk. YAML is chunked by key, descending into keys that are too long.
Files without a grammar, too big to parse, or that do not parse cleanly, are cut into line windows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from include.index.languages import YAML, LanguageSpec, parser, spec_for
from include.index.models import Chunk, ChunkKind

MAX_CHUNK_LINES = 150  # a longer symbol is cut into windows that keep its name
WINDOW_LINES = 60
WINDOW_OVERLAP = 10
MAX_PARSE_BYTES = 512 * 1024  # above this, line windows: parse time and chunk quality both degrade
MAX_ERROR_SHARE = 0.2  # more of the file than this in ERROR nodes: not this grammar's file after all


@dataclass(frozen=True)
class _Span:
    start: int  # 0-based, inclusive rows
    end: int
    symbol: str
    kind: ChunkKind


def chunk_file(path: str, text: str) -> list[Chunk]:
    """The chunks of one file's text."""
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        return []
    spec = spec_for(path)
    if spec is not None and len(text.encode("utf-8", "surrogateescape")) <= MAX_PARSE_BYTES:
        source = text.encode("utf-8", "surrogateescape")
        root = parser(spec.grammar).parse(source).root_node
        if _parses(root, len(source)):
            spans = list(_yaml(root, lines)) if spec is YAML else list(_symbols(root, spec, lines))
            return _chunks(path, spec.grammar, lines, spans)
    return _chunks(path, "text", lines, [_Span(0, len(lines) - 1, "", "window")])


def _parses(root: Node, size: int) -> bool:
    if not root.has_error:
        return True
    broken = sum(node.end_byte - node.start_byte for node in _errors(root))
    return broken <= MAX_ERROR_SHARE * max(size, 1)


def _errors(node: Node) -> Iterator[Node]:
    if node.type == "ERROR" or node.is_missing:
        yield node
        return
    if node.has_error:
        for child in node.children:
            yield from _errors(child)


# --- code ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Definition:
    outer: Node  # what the chunk spans (with decorators, `export`, `const f =`)
    inner: Node  # the class or function node itself
    name: str


def _symbols(root: Node, spec: LanguageSpec, lines: list[str]) -> Iterator[_Span]:
    yield from _container(root, spec, lines, scope="", gap_kind="module-part",
                          first=0, last=len(lines) - 1)


def _container(node: Node, spec: LanguageSpec, lines: list[str], scope: str, gap_kind: ChunkKind,
               first: int, last: int) -> Iterator[_Span]:
    covered: list[tuple[int, int]] = []
    for definition in _definitions(node, spec):
        start, end = _rows(definition.outer)
        if start < first or end > last or (gap_kind == "class" and start == first):
            continue  # outside, or on the class's own first line (`interface I { void Run(); }`): stays with it
        covered.append((start, end))
        qualified = f"{scope}.{definition.name}" if scope else definition.name
        if definition.inner.type in spec.classes:
            body = definition.inner.child_by_field_name("body")
            members = body if body is not None else definition.inner
            yield from _container(members, spec, lines, qualified, "class", start, end)
        else:
            yield _Span(start, end, qualified, "method" if gap_kind == "class" else "function")
    yield from _gaps(lines, first, last, covered, scope, gap_kind)


def _rows(node: Node) -> tuple[int, int]:
    """First and last row a node has text on (an end at column 0 belongs to the row before)."""
    end = node.end_point.row
    if node.end_point.column == 0 and end > node.start_point.row:
        end -= 1
    return node.start_point.row, end


def _definitions(node: Node, spec: LanguageSpec) -> Iterator[_Definition]:
    for child in node.named_children:
        inner = child
        wrapped = spec.wrappers.get(child.type)
        if wrapped is not None:
            inner = child.child_by_field_name(wrapped) or child
        if inner.type in spec.classes or inner.type in spec.functions:
            name = _name(inner)
            if name:
                yield _Definition(child, inner, name)
        elif inner.type in spec.variable_declarations:
            declarators = [d for d in inner.named_children if d.type == "variable_declarator"]
            value = declarators[0].child_by_field_name("value") if len(declarators) == 1 else None
            if value is not None and value.type in spec.function_values:
                name = _name(declarators[0])
                if name:
                    yield _Definition(child, value, name)
        elif inner.type in spec.transparent:
            yield from _definitions(inner, spec)


def _name(node: Node) -> str:
    named = node.child_by_field_name("name")
    if named is None:  # Go's `type X struct`: the name sits on the type_spec inside
        specs = [child.child_by_field_name("name") for child in node.named_children]
        named = next((s for s in specs if s is not None), None)
    return named.text.decode("utf-8", "replace") if named is not None and named.text else ""


def _gaps(lines: list[str], first: int, last: int, covered: list[tuple[int, int]], symbol: str,
          kind: ChunkKind) -> Iterator[_Span]:
    """The runs of lines in [first, last] outside `covered`, without runs that hold no word (blank lines, `}`)."""
    taken = [False] * (last - first + 1)
    for start, end in covered:
        for row in range(max(start, first), min(end, last) + 1):
            taken[row - first] = True
    row = first
    while row <= last:
        if taken[row - first]:
            row += 1
            continue
        start = row
        while row <= last and not taken[row - first]:
            row += 1
        if any(ch.isalnum() for line in lines[start:row] for ch in line):
            yield _Span(start, row - 1, symbol, kind)


# --- YAML ------------------------------------------------------------------------------------------------------

def _yaml(root: Node, lines: list[str]) -> Iterator[_Span]:
    covered: list[tuple[int, int]] = []
    for document in root.named_children:
        mapping = _block_mapping(document)
        if mapping is None:
            continue
        for span in _yaml_pairs(mapping, ""):
            covered.append((span.start, span.end))
            yield span
    yield from _gaps(lines, 0, len(lines) - 1, covered, "", "module-part")


def _yaml_pairs(mapping: Node, scope: str) -> Iterator[_Span]:
    for pair in mapping.named_children:
        if pair.type != "block_mapping_pair":
            continue
        key_node = pair.child_by_field_name("key")
        key = key_node.text.decode("utf-8", "replace").strip() if key_node is not None and key_node.text else ""
        qualified = f"{scope}.{key}" if scope else key
        start, end = _rows(pair)
        value = pair.child_by_field_name("value")
        inner = _block_mapping(value) if value is not None else None
        if end - start + 1 > MAX_CHUNK_LINES and inner is not None:
            yield _Span(start, start, qualified, "yaml-key")  # the key line itself, then its keys
            yield from _yaml_pairs(inner, qualified)
        else:
            yield _Span(start, end, qualified, "yaml-key")


def _block_mapping(node: Node) -> Node | None:
    """The block mapping directly under a document or a value (through block_node)."""
    for child in (node, *node.named_children):
        if child.type == "block_mapping":
            return child
        if child.type == "block_node":
            return next((c for c in child.named_children if c.type == "block_mapping"), None)
    return None


# --- spans to chunks -------------------------------------------------------------------------------------------

def _chunks(path: str, language: str, lines: list[str], spans: list[_Span]) -> list[Chunk]:
    chunks = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        for start, end in _windows(lines, span.start, span.end, span.kind == "window"):
            text = "\n".join(lines[start:end + 1])
            if text.strip():
                chunks.append(Chunk(path=path, language=language, symbol=span.symbol, kind=span.kind,
                                    start_line=start + 1, end_line=end + 1, text=text))
    return chunks


def _windows(lines: list[str], start: int, end: int, always: bool) -> Iterator[tuple[int, int]]:
    """[start, end] itself when short enough, else overlapping windows; trailing blank lines trimmed."""
    end = min(end, len(lines) - 1)
    while end > start and not lines[end].strip():
        end -= 1
    if not always and end - start + 1 <= MAX_CHUNK_LINES:
        yield start, end
        return
    size = WINDOW_LINES if always else MAX_CHUNK_LINES
    row = start
    while True:
        stop = min(row + size - 1, end)
        yield row, stop
        if stop >= end:
            return
        row = stop + 1 - WINDOW_OVERLAP
