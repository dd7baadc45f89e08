"""Deterministic scorers: each golden lists checks over the validated answer; none asks another model.

Schema validation comes first and gates the rest: an answer the agent would drop scores 0. Every other check
scores in [0, 1] (keyword coverage is partial credit, the rest pass or fail), and the golden's score is their
weighted mean. What fell short is said in words, for the evaluation report's failure column.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from include.agents import llm, po
from include.evals import edits


class _Check(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    weight: float = Field(default=1.0, gt=0)


class _FieldCheck(_Check):
    field: str = Field(description="A top-level field of the answer schema.")


class Keywords(_FieldCheck):
    """Each group is one idea the answer must cover, written as synonyms; the score is the share covered.
    A keyword matches case-insensitively as whole words; a trailing `*` makes it a prefix (`pin*` finds
    `pinned`)."""

    kind: Literal["keywords"] = "keywords"
    groups: list[list[str]] = Field(min_length=1)

    @field_validator("groups")
    @classmethod
    def _non_empty(cls, groups: list[list[str]]) -> list[list[str]]:
        if any(not group or not all(word.strip() for word in group) for group in groups):
            raise ValueError("every group needs at least one non-blank keyword")
        return groups


class Forbidden(_FieldCheck):
    """Regular expressions (case-insensitive) the answer must not match: invented facts, markup, filler."""

    kind: Literal["forbidden"] = "forbidden"
    patterns: list[str] = Field(min_length=1)

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a regular expression: {exc}") from exc
        return patterns


class Length(_FieldCheck):
    kind: Literal["length"] = "length"
    unit: Literal["chars", "words", "sentences", "items"]
    min: int = Field(default=0, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Length:
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max {self.max} is below min {self.min}")
        return self


class Novel(_FieldCheck):
    """PO refinement: the share of proposals the PO agent keeps (`po.new_criteria`: no repeats of the ticket's
    own criteria or of each other, at most five)."""

    kind: Literal["novel"] = "novel"


class EditsApply(_Check):
    kind: Literal["edits_apply"] = "edits_apply"


class CheckPasses(_Check):
    """The golden's check command passes on its files with the edits applied and its hidden files added."""

    kind: Literal["check_passes"] = "check_passes"


class PathsAllowed(_Check):
    """Every edited path matches one of the globs: the change stays where the ticket points."""

    kind: Literal["paths_allowed"] = "paths_allowed"
    globs: list[str] = Field(min_length=1)


Scorer = Annotated[Keywords | Forbidden | Length | Novel | EditsApply | CheckPasses | PathsAllowed,
                   Field(discriminator="kind")]
FIELD_CHECKS = (Keywords, Forbidden, Length, Novel)
SKILL_ONLY: dict[type[_Check], str] = {Novel: "po_refine", EditsApply: "dev_edits", CheckPasses: "dev_edits",
                                       PathsAllowed: "dev_edits"}
"""Checks that read one skill's input or answer, and that skill."""


@dataclass(frozen=True)
class CheckResult:
    kind: str
    score: float
    detail: str = ""
    weight: float = 1.0

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "score": self.score, "weight": self.weight, "detail": self.detail}


@dataclass(frozen=True)
class Score:
    score: float
    passed: bool
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def failure_reason(self) -> str:
        return "; ".join(f"{c.kind}: {c.detail}" for c in self.checks if c.score < 1)


def score_answer(content: str, schema: type[BaseModel], scorers: list[Scorer], data: Any,
                 pass_score: float) -> Score:
    """Validate `content` (the model's raw JSON) against `schema`, then run the golden's scorers on it.

    `data` is the golden's validated input; goldens pair each skill-specific scorer with its skill's input."""
    try:
        answer = schema.model_validate_json(content)
    except ValidationError as exc:
        return Score(0.0, False, [CheckResult("schema", 0.0, f"does not validate against {schema.__name__}: "
                                              f"{llm._short(exc)}")])
    graded = [_run(scorer, answer, data) for scorer in scorers]
    total = round(sum(r.score * r.weight for r in graded) / sum(r.weight for r in graded), 4)
    return Score(total, total >= pass_score, [CheckResult("schema", 1.0), *graded])


def _run(scorer: Scorer, answer: Any, data: Any) -> CheckResult:
    score, detail = _score(scorer, answer, data)
    return CheckResult(scorer.kind, round(score, 4), detail, scorer.weight)


def _score(scorer: Scorer, answer: Any, data: Any) -> tuple[float, str]:
    value = getattr(answer, scorer.field) if isinstance(scorer, FIELD_CHECKS) else None
    match scorer:
        case Keywords(groups=groups):
            text = _text(value).casefold()
            missing = [group for group in groups if not any(_has_word(text, word) for word in group)]
            detail = "missing " + ", ".join(" / ".join(group) for group in missing) if missing else ""
            return 1 - len(missing) / len(groups), detail
        case Forbidden(patterns=patterns):
            text = _text(value)
            hits = [m.group(0) for p in patterns if (m := re.search(p, text, re.IGNORECASE))]
            return (0.0, f"contains {', '.join(repr(h) for h in hits)}") if hits else (1.0, "")
        case Length(unit=unit, min=low, max=high):
            size = _measure(value, unit)
            if size < low or (high is not None and size > high):
                return 0.0, f"{size} {unit}, wanted {low}..{high if high is not None else ''}"
            return 1.0, ""
        case Novel():
            proposed = list(value)
            kept = po.new_criteria(data.ticket.to_ticket(), proposed)
            if len(kept) == len(proposed):
                return 1.0, ""
            return len(kept) / len(proposed), (f"{len(proposed) - len(kept)} of {len(proposed)} proposals repeat "
                                               "the ticket or each other, or exceed five")
        case EditsApply():
            outcome = edits.applies(data.files, answer)
            return (1.0, "") if outcome.passed else (0.0, outcome.detail)
        case CheckPasses():
            outcome = edits.run_check(data.files, answer, data.check_files, data.check, data.check_timeout_s)
            return (1.0, "") if outcome.passed else (0.0, outcome.detail)
        case PathsAllowed(globs=globs):
            outside = [e.path for e in answer.edits if not any(fnmatch.fnmatchcase(e.path, g) for g in globs)]
            return (0.0, f"edits {', '.join(outside)} outside {', '.join(globs)}") if outside else (1.0, "")
    raise TypeError(f"no scorer for {scorer!r}")


def _text(value: object) -> str:
    if isinstance(value, list):
        return "\n".join(_text(item) for item in value)
    return str(value)


def _has_word(text: str, word: str) -> bool:
    stem = word.removesuffix("*")
    end = "" if word.endswith("*") else r"(?!\w)"
    return re.search(r"(?<!\w)" + re.escape(stem.casefold()) + end, text) is not None


def _measure(value: object, unit: str) -> int:
    if unit == "items":
        return len(value) if isinstance(value, list) else 1
    text = _text(value)
    if unit == "chars":
        return len(text)
    if unit == "words":
        return len(text.split())
    return len(re.findall(r"[.!?](?=\s|$)", text.strip())) or (1 if text.strip() else 0)
