"""A guard shared by every prose field a model writes: an answer that copies the prompt's placeholder
(`"<one paragraph>"`, `"<first checkable sentence>"`) is not an answer. Small models do that when decoding is
constrained to the answer's shape; the field then fails validation, the model sees why in its one retry, and
the agent keeps its deterministic text if it copies again."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_PLACEHOLDER = re.compile(r"<[a-z][a-z0-9'-]* [a-z][^<>=\n]*(>|$)", re.I)
"""An opening `<` and words, as the prompts wrote placeholders (closed or cut off by the token budget); not a tag
like `<br>` or `<a href="x">` (an attribute has `=`, checked by the caller's schema anyway)."""


def no_placeholder(value: str) -> str:
    """Refuse a text that opens with a placeholder (the copied shape); a template inside real prose, like
    `/exports/<customer name>.zip`, is the writer's own."""
    if _PLACEHOLDER.match(value.lstrip()):
        raise ValueError(f"{value.strip()[:60]!r} is the instructions' placeholder: write the text itself")
    return value


Prose = Annotated[str, AfterValidator(no_placeholder)]
"""A string a model wrote for people to read."""


_WORD = re.compile(r"[a-z0-9]+", re.I)
_COMMON = frozenset("""a an and are as at be by for from has have in into is it its no not of on or that the this
to was were will with when which than then there these those what who all any each one two three more most""".split())


def words(text: str) -> set[str]:
    """The text's content words (four letters or more, not a common word), lower-cased."""
    return {w for w in (m.lower() for m in _WORD.findall(text)) if len(w) >= 4 and w not in _COMMON}


def grounded(text: str, source: str, at_least: int = 1) -> bool:
    """Whether `text` shares at least `at_least` content words with `source` (the ticket, the diff): a small
    model's version numbers, hashes, links and invented features share none and are left out."""
    return len(words(text) & words(source)) >= at_least


_ALPHA_WORD = re.compile(r"(?<![\w./:-])[^\W\d_]{2,}(?![\w./:-])")


def is_sentence(text: str, at_least: int = 2) -> bool:
    """Whether `text` reads as a sentence: `at_least` standalone words of letters. A version number, a hash, a
    link or a snake_case identifier is not a checkable criterion, however the schema let it through."""
    return len(_ALPHA_WORD.findall(text)) >= at_least
