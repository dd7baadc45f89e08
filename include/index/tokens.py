"""Words out of code: identifiers split on camelCase, snake_case and digits, so `parse_header`, `parseHeader` and
"parse header" meet. Full-text search and the hashed embedder read text through this one function."""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
# lowerUpper, ACRONYMWord, letter|digit boundaries
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def split_identifier(identifier: str) -> list[str]:
    """`parseHTTPHeader_v2` -> ['parse', 'http', 'header', 'v', '2']; a plain word comes back as itself."""
    parts: list[str] = []
    for piece in identifier.split("_"):
        parts.extend(match.lower() for match in _CAMEL.findall(piece))
    return parts


def words(text: str) -> list[str]:
    """Every identifier's parts, followed by the identifier itself when it had more than one part."""
    out: list[str] = []
    for identifier in _IDENTIFIER.findall(text):
        parts = split_identifier(identifier)
        out.extend(parts)
        if len(parts) > 1:
            out.append(identifier.lower())
    return out


def searchable(text: str) -> str:
    """The text PostgreSQL's parser sees: split words, space-separated (its own parser would keep `parseHeader`
    whole and read `a.b_c` as a host name)."""
    return " ".join(words(text))
