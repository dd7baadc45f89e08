"""Which grammar reads a file, and which of its syntax nodes are symbols.

The grammars are those compiled into `tree-sitter-language-pack` 0.13 (its 1.x releases download grammars at run
time, which an offline install cannot). A language is data here: the node types that are class-like (a chunk for
their header and fields, one per member), function-like, and the wrappers and namespaces to look through."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import PurePosixPath

from tree_sitter import Parser
from tree_sitter_language_pack import get_parser


@dataclass(frozen=True)
class LanguageSpec:
    grammar: str
    classes: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    # node -> the field holding the definition it wraps (decorators, `export`)
    wrappers: dict[str, str] = field(default_factory=dict)
    # looked through for definitions without adding a scope (namespaces, enum member lists)
    transparent: frozenset[str] = frozenset()
    # `const f = () => ...`: declarations whose declarator's value may be a function
    variable_declarations: frozenset[str] = frozenset()
    function_values: frozenset[str] = frozenset()


_PYTHON = LanguageSpec(
    grammar="python",
    classes=frozenset({"class_definition"}),
    functions=frozenset({"function_definition"}),
    wrappers={"decorated_definition": "definition"},
)
_JS_CLASSES = frozenset({"class_declaration", "abstract_class_declaration"})
_JS_FUNCTIONS = frozenset({"function_declaration", "generator_function_declaration", "method_definition"})
_JS_COMMON = {
    "wrappers": {"export_statement": "declaration"},
    "variable_declarations": frozenset({"lexical_declaration", "variable_declaration"}),
    "function_values": frozenset({"arrow_function", "function_expression", "function", "generator_function"}),
}
_JAVASCRIPT = LanguageSpec(grammar="javascript", classes=_JS_CLASSES, functions=_JS_FUNCTIONS, **_JS_COMMON)
_TS_CLASSES = _JS_CLASSES | {"interface_declaration", "enum_declaration"}
_TS_FUNCTIONS = _JS_FUNCTIONS | {"abstract_method_signature", "function_signature"}
_TYPESCRIPT = LanguageSpec(grammar="typescript", classes=_TS_CLASSES, functions=_TS_FUNCTIONS, **_JS_COMMON)
_TSX = LanguageSpec(grammar="tsx", classes=_TS_CLASSES, functions=_TS_FUNCTIONS, **_JS_COMMON)
_JAVA = LanguageSpec(
    grammar="java",
    classes=frozenset({"class_declaration", "interface_declaration", "enum_declaration", "record_declaration",
                       "annotation_type_declaration"}),
    functions=frozenset({"method_declaration", "constructor_declaration", "compact_constructor_declaration"}),
    transparent=frozenset({"enum_body_declarations"}),
)
_CSHARP = LanguageSpec(
    grammar="csharp",
    classes=frozenset({"class_declaration", "struct_declaration", "interface_declaration", "enum_declaration",
                       "record_declaration"}),
    functions=frozenset({"method_declaration", "constructor_declaration", "destructor_declaration",
                         "operator_declaration", "local_function_statement"}),
    transparent=frozenset({"namespace_declaration", "file_scoped_namespace_declaration", "declaration_list"}),
)
_GO = LanguageSpec(
    grammar="go",
    classes=frozenset({"type_declaration"}),
    functions=frozenset({"function_declaration", "method_declaration"}),
)
YAML = LanguageSpec(grammar="yaml")  # chunked by key, not by these sets (see chunker._yaml)

_BY_SUFFIX: dict[str, LanguageSpec] = {
    ".py": _PYTHON, ".pyi": _PYTHON,
    ".js": _JAVASCRIPT, ".mjs": _JAVASCRIPT, ".cjs": _JAVASCRIPT, ".jsx": _JAVASCRIPT,
    ".ts": _TYPESCRIPT, ".mts": _TYPESCRIPT, ".cts": _TYPESCRIPT, ".tsx": _TSX,
    ".java": _JAVA,
    ".cs": _CSHARP,
    ".go": _GO,
    ".yml": YAML, ".yaml": YAML,
}


def spec_for(path: str) -> LanguageSpec | None:
    """The language of `path` by its suffix; None: no grammar, the file is cut into line windows."""
    return _BY_SUFFIX.get(PurePosixPath(path).suffix.lower())


@cache
def parser(grammar: str) -> Parser:
    return get_parser(grammar)  # type: ignore[arg-type]  # the pack types grammar names as a Literal
