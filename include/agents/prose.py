"""A guard shared by every prose field a model writes: an answer that copies the prompt's placeholder
(`"<one paragraph>"`, `"<first checkable sentence>"`) is not an answer. Small models do that when decoding is
constrained to the answer's shape; the field then fails validation, the model sees why in its one retry, and
the agent keeps its deterministic text if it copies again."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_PLACEHOLDER = re.compile(r"<[a-z][a-z0-9 ,:.'-]{2,}>", re.I)
"""Angle brackets around plain words, as the prompts write placeholders; not a tag like `<br>` or `<a href=x>`."""


def no_placeholder(value: str) -> str:
    """Refuse a text that opens with a placeholder (the copied shape); a template inside real prose, like
    `/exports/<customer name>.zip`, is the writer's own."""
    found = _PLACEHOLDER.match(value.lstrip())
    if found and " " in found.group(0):
        raise ValueError(f"{found.group(0)!r} is the instructions' placeholder: write the text itself")
    return value


Prose = Annotated[str, AfterValidator(no_placeholder)]
"""A string a model wrote for people to read."""
