"""The agent skills under evaluation: each one's input, answer schema per prompt major, and its prompt files.

A skill's name is its prompt's name. The model sees a golden the way the agent shows it a ticket: the prompt
as the system message with the untrusted-data notice, the same labelled untrusted blocks within the same
character budget (built here as the agent builds them, with the agent's helpers where it has them), the
same answer-token limit, and for edits the same check that they apply. Prompt majors change the answer's
shape (prompts/CHANGELOG.md), so a schema is registered per major, and a prompt whose major has none is
reported, not guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from include.agents import excerpts, model_edits
from include.agents.docs import DocsWriteup
from include.agents.edits import planned_changes
from include.agents.llm import MAX_UNTRUSTED_CHARS, PROMPTS_DIR, Prompt, _quoted
from include.agents.playbooks import adr
from include.evals.edits import materialised
from include.evals.schemas import (
    DevEditsInput,
    DocsDescriptionInput,
    EditPlan,
    PoRefineInput,
    PrDescription,
    ReviewSummary,
    ReviewSummaryInput,
    TicketReading,
)

_PROMPT_FILE = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)\.v(?P<version>(?P<major>\d+)\.\d+\.\d+)\.md$")
_EDIT_BUDGET = model_edits.EditBudget()
"""The agents' default edit budget, sized for the embedded local model; goldens are written to fit it."""


@dataclass(frozen=True)
class Skill:
    name: str
    input_model: type[BaseModel]
    schemas: Mapping[int, type[BaseModel]]
    """Answer schema by prompt major version."""
    untrusted: Callable[[Any], dict[str, str]]
    """The labelled blocks the agent quotes to the model, built from the golden's (validated) input."""
    max_tokens: int
    max_untrusted_chars: int = MAX_UNTRUSTED_CHARS
    check: Callable[[Any, Any], object] | None = None
    """(input, answer) → raises `llm.AnswerRejected` for an answer the agent would reject beyond its schema;
    the model then gets its retry with the reason, as in `llm.ask_json`."""
    untrusted_by_major: Mapping[int, Callable[[Any], dict[str, str]]] = field(default_factory=dict)
    """Earlier prompt majors whose agent quoted other blocks; `untrusted` is the current agent's."""

    def blocks(self, data: Any, major: int | None = None) -> dict[str, str]:
        """The blocks for a prompt major (default: the current agent's)."""
        return self.untrusted_by_major.get(major or 0, self.untrusted)(data)

    @property
    def reference_major(self) -> int:
        """Goldens' reference answers are written against the newest schema."""
        return max(self.schemas)

    def quoted(self, data: Any, major: int | None = None) -> str:
        """The user message the model gets: the blocks as `llm._quoted` cuts them to the budget."""
        return _quoted(self.blocks(data, major), self.max_untrusted_chars)

    def truncates(self, data: Any) -> bool:
        """Whether the budget cuts any block of this input (a golden must arrive whole to mean anything)."""
        blocks = self.untrusted(data)
        return _quoted(blocks, self.max_untrusted_chars) != _quoted(blocks, 10 * sum(map(len, blocks.values())))


def _po_refine(data: PoRefineInput) -> dict[str, str]:
    """As `po.read` quotes the ticket (prompt major 2; major 1 answers validate with the same schema, whose
    fields beyond `criteria` are optional)."""
    ticket = data.ticket
    own = "\n".join(f"- {text}" for text in ticket.acceptance_criteria) or "(none)"
    return {"ticket title": ticket.title, "ticket description": ticket.description,
            "ticket tags": "(none)",  # goldens carry no tags
            "ticket acceptance criteria": own}


def _docs_writeup(data: DocsDescriptionInput) -> dict[str, str]:
    """As `docs.write_up` quotes the merged change (prompt major 2)."""
    ticket = data.ticket
    return {"ticket title": ticket.title, "ticket description": ticket.description,
            "acceptance criteria": "\n".join(f"- {c}" for c in ticket.acceptance_criteria) or "(none)",
            "files changed by the merged PR": "\n".join(data.files_changed) or "(none listed)",
            "ADR requested": "yes" if adr.wants_adr(ticket.to_ticket()) else "no"}


def _docs_description(data: DocsDescriptionInput) -> dict[str, str]:
    """As `docs.pr_description` quoted the merged change for prompt major 1."""
    ticket = data.ticket
    return {"ticket title": ticket.title, "ticket description": ticket.description,
            "files changed by the merged PR": "\n".join(data.files_changed) or "(none listed)",
            "documentation files edited now": "\n".join(data.docs_files) or "(none)"}


def _review_summary(data: ReviewSummaryInput) -> dict[str, str]:
    """As `review.summarise` quotes the PR."""
    ticket = data.ticket
    criteria = "\n".join(f"- {text}" for text in ticket.acceptance_criteria) or "(none)"
    found = "\n".join(f"{f.severity} {f.tool} {f.code} {f.path}:{f.line}: {f.message}" for f in data.findings)
    return {"ticket title": ticket.title, "acceptance criteria": criteria, "automated findings": found or "(none)",
            "pull request diff": data.diff or "(empty)"}


def _dev_edits(data: DevEditsInput) -> dict[str, str]:
    """As `model_edits.propose_change` quotes the ticket and picks the repository files to show."""
    with materialised(data.files) as root:
        own = model_edits._ticket_blocks(data.ticket.to_ticket(), _EDIT_BUDGET)
        repo = excerpts.select(root, "\n".join(own.values()), _EDIT_BUDGET.context_chars - sum(map(len, own.values())))
        return own | repo.blocks()


def _edits_apply(data: DevEditsInput, plan: EditPlan) -> None:
    """Dev's own check before it commits: every edit applies to the files as the earlier ones left them."""
    with materialised(data.files) as root:
        planned_changes(root, plan)


SKILLS: dict[str, Skill] = {
    skill.name: skill for skill in (
        Skill("po_refine", PoRefineInput, {1: TicketReading, 2: TicketReading}, _po_refine, max_tokens=320),
        Skill("docs_pr_description", DocsDescriptionInput, {1: PrDescription, 2: DocsWriteup}, _docs_writeup,
              max_tokens=240, untrusted_by_major={1: _docs_description}),
        Skill("review_summary", ReviewSummaryInput, {1: ReviewSummary}, _review_summary, max_tokens=300),
        Skill("dev_edits", DevEditsInput, {1: EditPlan}, _dev_edits, max_tokens=_EDIT_BUDGET.answer_tokens,
              max_untrusted_chars=_EDIT_BUDGET.context_chars, check=_edits_apply),
    )
}


@dataclass(frozen=True)
class PromptVersion:
    prompt: Prompt
    major: int

    @property
    def ref(self) -> str:
        return self.prompt.ref


def prompt_versions(name: str, prompts_dir: Path = PROMPTS_DIR) -> list[PromptVersion]:
    """Every `<name>.v<semver>.md` in the prompts folder, oldest first."""
    found = []
    for path in prompts_dir.glob(f"{name}.v*.md"):
        match = _PROMPT_FILE.match(path.name)
        if match and match["name"] == name:
            prompt = Prompt(name=name, version=match["version"], text=path.read_text(encoding="utf-8").strip())
            found.append(PromptVersion(prompt, int(match["major"])))
    return sorted(found, key=lambda p: tuple(int(part) for part in p.prompt.version.split(".")))
