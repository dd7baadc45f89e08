"""What a model card says about a model beyond its scores: context, intended use, known limits (models.yaml)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

CATALOG_PATH = Path(__file__).with_name("models.yaml")


class ModelInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    context_tokens: int | None = Field(default=None, gt=0)
    intended_use: str = ""
    known_limits: list[str] = Field(default_factory=list)
    catalogued: bool = True


def model_info(spec: str, path: Path = CATALOG_PATH) -> ModelInfo:
    """The catalogue entry of `spec`; an uncatalogued model gets an entry saying so, never a guess."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if spec not in entries:
        return ModelInfo(catalogued=False, intended_use=f"Not catalogued: add {spec} to include/evals/models.yaml.")
    return ModelInfo.model_validate(entries[spec])
