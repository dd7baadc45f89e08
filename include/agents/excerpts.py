"""Which repository files a model sees when it proposes a change: chosen deterministically, shown whole, and
kept within a character budget (the local model has a 2k-token context, cloud models far more).

Files the ticket (or a failing test's output) names come first, in the order they are named; then files the
caller prefers (what the PR already changed); then the files those named files name themselves (a test's
imports), and the tests that name them; only when nothing is named, the files whose paths and text share the
most words with the ticket.
A file that does not fit whole is left out rather than cut, because an edit needs the exact text it replaces.
A short listing of the repository's files always goes along, so the model knows where a new file belongs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from include.agents.edits import is_test_file
from include.agents.workspace import repo_files

LISTING_CHARS = 600
MAX_LIKELY = 3
"""Files chosen by shared words, when the ticket names none."""
_WORD = re.compile(r"[a-z][a-z0-9]{3,}")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_STOPWORDS = frozenset(
    "about after also been before being change changes does each every from have into make must only other "
    "should such than that their them then there these they this those ticket under when where which while "
    "will with without would".split()
)


@dataclass(frozen=True)
class RepoExcerpt:
    shown: dict[str, str]
    """Path → whole content, in the order of relevance."""
    listing: str

    def blocks(self) -> dict[str, str]:
        """The prompt's untrusted blocks: the listing, then one block per file labelled with its path."""
        return {"repository files": self.listing, **{f"file {path}": text for path, text in self.shown.items()}}

    @property
    def size(self) -> int:
        return len(self.listing) + sum(len(text) for text in self.shown.values())


def select(root: Path, text: str, budget_chars: int, *, prefer: Iterable[str] = ()) -> RepoExcerpt:
    """The files to show for a change described by `text`, within `budget_chars` (listing included)."""
    files = repo_files(root)
    named = named_in(text, files)
    ranked = named + [path for path in prefer if path in files and path not in named]
    for path in named:  # what the named files name in turn: a failing test's imports are the code under test
        ranked += [found for found in named_in(_text(root / path) or "", files) if found not in ranked]
    for path in files:  # the tests of the named files, the pattern for the test a change should add
        if is_test_file(path) and path not in ranked and set(named_in(_text(root / path) or "", files)) & set(named):
            ranked.append(path)
    if not ranked:
        ranked = likely(root, text, files)
    listing = _listing(files, min(LISTING_CHARS, budget_chars // 4))
    remaining = budget_chars - len(listing)
    shown: dict[str, str] = {}
    for path in ranked:
        content = _text(root / path)
        if content is not None and len(content) <= remaining:
            shown[path] = content
            remaining -= len(content)
    return RepoExcerpt(shown=shown, listing=listing)


def named_in(text: str, files: list[str]) -> list[str]:
    """Files `text` names by path, by a file name no other file has, or by dotted module name, in the order
    of their first mention."""
    names: dict[str, list[str]] = {}
    for path in files:
        names.setdefault(path.rsplit("/", 1)[-1], []).append(path)
    found: dict[str, int] = {}
    for path in files:
        forms = [path]
        name = path.rsplit("/", 1)[-1]
        if len(names[name]) == 1 and "." in name:
            forms.append(name)
        if path.endswith(".py") and "/" in path and not path.endswith("/__init__.py"):
            forms.append(path[:-3].replace("/", "."))
        positions = [m.start() for form in forms
                     for m in re.finditer(rf"(?<![\w/.-]){re.escape(form)}(?![\w/-])", text)]
        if positions:
            found[path] = min(positions)
    return sorted(found, key=lambda path: (found[path], path))


def likely(root: Path, text: str, files: list[str]) -> list[str]:
    """The few files sharing the most words with `text`: a word in the path counts three, in the content one."""
    words = _words(text) - _STOPWORDS
    scores: dict[str, int] = {}
    for path in files:
        content = _text(root / path)
        if content is None:
            continue
        score = 3 * len(words & _words(path)) + len(words & _words(content))
        if score:
            scores[path] = score
    return sorted(scores, key=lambda path: (-scores[path], path))[:MAX_LIKELY]


def _words(text: str) -> set[str]:
    """Words of four letters or more, identifiers split (`LineItem`, `tax_cents`), a plural's `s` dropped."""
    words = _WORD.findall(_CAMEL.sub(" ", text).casefold())
    return {word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word
            for word in words}


def _listing(files: list[str], limit: int) -> str:
    lines: list[str] = []
    used = 0
    for path in files:
        if used + len(path) + 1 > limit:
            lines.append(f"... and {len(files) - len(lines)} more files")
            break
        lines.append(path)
        used += len(path) + 1
    return "\n".join(lines)


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
