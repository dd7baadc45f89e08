"""DOCS: fix the typo a ticket names ("Fix typo 'recieve' in README") in the README or the files its title
names. Narrow on purpose: a correction must be spelled out in the ticket or be an unambiguous,
well-known misspelling; anything vaguer needs a person or a model, and the error says so."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from include.agents.errors import AgentError
from include.agents.playbooks.text import ticket_text
from include.agents.workspace import repo_files
from include.contracts import Ticket
from include.scm import FileChange

COMMON_MISSPELLINGS = {
    "accomodate": "accommodate",
    "adress": "address",
    "definately": "definitely",
    "dependancy": "dependency",
    "enviroment": "environment",
    "existant": "existent",
    "occured": "occurred",
    "recieve": "receive",
    "seperate": "separate",
    "succesful": "successful",
    "teh": "the",
    "untill": "until",
    "wich": "which",
}
_QUOTE_OPEN, _QUOTE_CLOSE = "'\"`‘“„", "'\"`’”“"
_QUOTED = re.compile(rf"[{_QUOTE_OPEN}](?P<word>[^{_QUOTE_CLOSE}\s]+)[{_QUOTE_CLOSE}]")
_SAYS_CORRECT = (r"->|→|=>|\bto\b|\bwith\b|\bby\b|\bshould (?:read|be|say)\b|\bmust read\b"
                 r"|,?\s*richtig (?:ist|wäre|lautet)\b:?|\bsollte (?:lauten|heißen)\b:?")
_CORRECTION = re.compile(
    rf"[{_QUOTE_OPEN}](?P<wrong>[^{_QUOTE_CLOSE}\n]+)[{_QUOTE_CLOSE}]\s*(?:{_SAYS_CORRECT})\s*"
    rf"[{_QUOTE_OPEN}](?P<right>[^{_QUOTE_CLOSE}\n]+)[{_QUOTE_CLOSE}]"
)
"""'wrong' -> 'right', "wrong" should read "right", „falsch“, richtig ist „richtig“."""
_README = re.compile(r"^README(\.(md|rst|txt))?$", re.I)


def corrections(ticket: Ticket) -> dict[str, str]:
    """wrong → right pairs: spelled out ('a' -> 'b', 'a' with 'b'), else quoted well-known misspellings."""
    text = ticket_text(ticket)
    explicit = dict(_narrowed(" ".join(m["wrong"].split()), " ".join(m["right"].split()))
                    for m in _CORRECTION.finditer(text))
    if explicit:
        return explicit
    known = {m["word"]: COMMON_MISSPELLINGS[m["word"].lower()] for m in _QUOTED.finditer(text)
             if m["word"].lower() in COMMON_MISSPELLINGS}
    if not known:
        raise AgentError(
            f"ticket {ticket.ticket_key}: the docs playbook fixes named typos only and found none in "
            f"{ticket.title!r}; name it as 'wrong' -> 'right'"
        )
    return known


def _narrowed(wrong: str, right: str) -> tuple[str, str]:
    """The part of a quoted passage the correction is about. Teams quote a whole sentence and then only the
    corrected part ("… as they were so you that you can repopulate it" should read "so that you can repopulate
    it"; „… linkify text safley“, richtig ist „safely“): replacing the whole quote would delete the rest of the
    sentence. Words the correction shares with the quote anchor it; a one-word correction replaces the quote's
    most similar word. No anchor at all: the quote as it stands."""
    old, new = wrong.split(), right.split()
    blocks = [b for b in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_matching_blocks() if b.size]
    if blocks:
        start, end = blocks[0].a - blocks[0].b, blocks[-1].a + blocks[-1].size + (len(new) - blocks[-1].b
                                                                                   - blocks[-1].size)
        return " ".join(old[max(start, 0):min(end, len(old))]), right
    if len(new) == 1:
        close = difflib.get_close_matches(right, old, n=1, cutoff=0.6)
        if close:
            return close[0].strip(".,;:!?"), right
    return wrong, right


def occurrence(wrong: str) -> re.Pattern[str]:
    """Where `wrong` stands in a file: whole words, any case, and any run of white space (a README may wrap a
    quoted phrase across lines)."""
    words = r"\s+".join(re.escape(word) for word in wrong.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.I)


def target_files(ticket: Ticket, workdir: Path) -> list[str]:
    """Files the title names by path, else the top-level README. Only the title: descriptions mention
    files in passing (requirements.txt, config paths) that are not what the typo ticket is about."""
    files = repo_files(workdir)
    named = [path for path in files if re.search(rf"(?<![\w./-]){re.escape(path)}(?![\w/-])", ticket.title)]
    return named or [path for path in files if "/" not in path and _README.match(path)]


def apply(ticket: Ticket, workdir: Path) -> list[FileChange]:
    """Whole-word replacements that keep the case of the original (Recieve → Receive). A typo that is
    gone while its correction is present was fixed by an earlier run of this step: no change."""
    fixes = corrections(ticket)
    targets = target_files(ticket, workdir)
    if not targets:
        raise AgentError(f"ticket {ticket.ticket_key}: no README and no file named in the ticket to fix")
    changes: list[FileChange] = []
    already_fixed: set[str] = set()
    for path in targets:
        original = (workdir / path).read_text(encoding="utf-8")
        text = original
        for wrong, right in fixes.items():
            text = occurrence(wrong).sub(lambda m, right=right: _same_case(m.group(0), right), text)
            if occurrence(right).search(original):
                already_fixed.add(wrong)
        if text != original:
            changes.append(FileChange(path=path, content=text))
    if not changes and not already_fixed:
        raise AgentError(
            f"ticket {ticket.ticket_key}: {', '.join(map(repr, fixes))} does not occur in {', '.join(targets)}"
        )
    return changes


def _same_case(found: str, replacement: str) -> str:
    if found.isupper():
        return replacement.upper()
    if found[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement
