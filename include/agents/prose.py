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
