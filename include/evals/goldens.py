"""Golden tickets: one YAML file per golden under goldens/<skill>/, validated whole when loaded.

A golden names its skill, the input the agent would show the model, a reference answer (a known-good one,
which must itself score 1.0: tests hold every golden to that), and its scorers. Loading fails with the file
name on anything that would make a golden silently meaningless: an unknown skill, an input or reference
the skill's schemas reject, a scorer on a field the answer does not have or for another skill, an input the
agent's quoting would truncate, or a non-empty Dev golden file the agent would not show the model.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from include.evals.schemas import DevEditsInput
from include.evals.scoring import FIELD_CHECKS, SKILL_ONLY, Scorer
from include.evals.skills import SKILLS, Skill

GOLDENS_DIR = Path(__file__).with_name("goldens")


class GoldenError(ValueError):
    """A golden file that does not load; the message names the file."""


class Golden(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,79}$")
    skill: str
    summary: str = Field(min_length=10, description="What the golden checks, for the report's reader.")
    input: dict[str, Any]
    reference: dict[str, Any]
    scorers: list[Scorer] = Field(min_length=1)
    pass_score: float = Field(default=0.8, gt=0, le=1)

    @cached_property
    def spec(self) -> Skill:
        return SKILLS[self.skill]

    @cached_property
    def data(self) -> BaseModel:
        """The input, validated by the skill's input model."""
        return self.spec.input_model.model_validate(self.input)

    @model_validator(mode="after")
    def _fits_its_skill(self) -> Golden:
        if self.skill not in SKILLS:
            raise ValueError(f"unknown skill {self.skill!r}; one of {', '.join(SKILLS)}")
        schema = self.spec.schemas[self.spec.reference_major]
        schema.model_validate(self.reference)
        for scorer in self.scorers:
            if isinstance(scorer, FIELD_CHECKS) and scorer.field not in schema.model_fields:
                raise ValueError(f"scorer {scorer.kind} reads {scorer.field!r}, which {schema.__name__} lacks")
            owner = SKILL_ONLY.get(type(scorer))
            if owner and owner != self.skill:
                raise ValueError(f"scorer {scorer.kind} is for {owner} goldens only")
        if self.spec.truncates(self.data):
            raise ValueError(f"the input's untrusted blocks exceed the agent's budget of "
                             f"{self.spec.max_untrusted_chars} characters, so the model would see them truncated")
        if isinstance(self.data, DevEditsInput):
            shown = {label.removeprefix("file ") for label in self.spec.untrusted(self.data)}
            hidden = sorted(path for path, text in self.data.files.items() if text and path not in shown)
            if hidden:
                raise ValueError(f"the Dev agent would not show the model {', '.join(hidden)}: name them in the "
                                 "ticket, or leave them out of the golden")
        return self


def load_golden(path: Path) -> Golden:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        golden = Golden.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise GoldenError(f"{path}: {exc}") from exc
    if path.parent.name != golden.skill or path.stem != golden.id:
        raise GoldenError(f"{path}: a golden lives at goldens/<skill>/<id>.yaml; this one says skill "
                          f"{golden.skill!r} and id {golden.id!r}")
    return golden


def load_goldens(skills: list[str] | None = None, root: Path = GOLDENS_DIR) -> list[Golden]:
    """Every golden of the given skills (default: all), ordered by skill then id."""
    wanted = list(SKILLS) if skills is None else skills
    unknown = sorted(set(wanted) - set(SKILLS))
    if unknown:
        raise GoldenError(f"unknown skills {unknown}; known: {', '.join(SKILLS)}")
    goldens = [load_golden(path) for skill in wanted for path in sorted((root / skill).glob("*.yaml"))]
    seen: set[str] = set()
    for golden in goldens:
        if golden.id in seen:
            raise GoldenError(f"golden id {golden.id!r} is used twice")
        seen.add(golden.id)
    return sorted(goldens, key=lambda g: (wanted.index(g.skill), g.id))
