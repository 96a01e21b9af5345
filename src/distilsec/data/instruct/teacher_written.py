"""Teacher-written instruction records: an LLM writes a question and answer grounded in one quoted passage.

The second generator of ``distilsec cti-data`` (the first is :mod:`.templates`). Each call quotes one
knowledge passage (:class:`~distilsec.data.knowledge.passage.Passage`) and asks for one JSON object
``{"question", "answer", "evidence"}``; the record keeps the passage ID and source as its provenance.
Answers pass through filters, each rejection counted by reason:

* parse: the reply must be one JSON object (a single Markdown code fence around it is allowed) with three
  non-empty strings of sane length (``malformed_json``, ``missing_field``, ``bad_length``; ``truncated`` when
  the reply was cut at ``max_tokens``);
* grounding: ``evidence`` must be a span of the passage (``evidence_not_in_passage``), most key terms of the
  answer must occur in the passage (``answer_not_in_passage``), every ATT&CK / CWE / CAPEC / CVE ID the
  question or answer names must be in the passage (``foreign_id``), and the answer must not be a copy of
  the question (``answer_in_question``);
* judge (optional): a second call asks the same LLM whether the passage supports the answer (``judge_no``,
  ``judge_unparsed``).

Every call (writer and judge) goes through the teacher-call ledger keyed by model + prompt/settings +
(passage, variant, sampler seed): a rerun of a killed job asks nothing twice. A failed call is a counted
``llm_error``; a generator that fails its first calls (cannot be reached) or fails
``max_consecutive_errors`` calls in a row stops the build with one clear error.

Near-duplicate removal, the entity split and decontamination happen in the pipeline
(:mod:`distilsec.pipeline.cti_data`), on these records and the template records together.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from distilsec.data.instruct.records import Record
from distilsec.data.instruct.split import mentioned_ids
from distilsec.data.knowledge.passage import Passage
from distilsec.errors import ConfigError, DataError

__all__ = [
    "TEMPLATE",
    "TeacherWriting",
    "TeacherWriter",
    "Rejection",
    "select_passages",
    "parse_answer",
    "grounding_problem",
    "build_record",
    "messages_for",
]

log = logging.getLogger("distilsec.cti_data")

#: the ``template`` of every teacher-written record (its generator name in counts and the data card).
TEMPLATE = "teacher_written"
PROMPT_VERSION = "cti-teacher-written.v2"
JUDGE_VERSION = "cti-teacher-judge.v1"
#: passage kinds worth a question (detection strategies are one-line titles, link lists have templates).
KINDS = ("technique", "mitigation", "data-component", "group", "software", "campaign", "cwe", "capec", "cve")

_SYSTEM = (
    "You write training data for a cyber threat intelligence assistant. You use only facts stated in the "
    "passage you are given, and you reply with one JSON object and nothing else."
)
_USER = (
    'Passage [{pid}] {title} (source: {source}):\n"""\n{text}\n"""\n\n'
    "Write one question that this passage answers, and its answer. Use only facts stated in the passage; "
    "name the subject ({title}) in the question; answer in one or two sentences. Reply with one JSON object and "
    "nothing else, in this form:\n"
    '{{"question": "...", "answer": "...", "evidence": "one sentence of the passage, copied word for word, '
    'that supports the answer"}}'
)
_JUDGE_SYSTEM = "You check answers against a passage. Reply with YES or NO only."
_JUDGE_USER = (
    'Passage:\n"""\n{text}\n"""\n\nQuestion: {question}\nAnswer: {answer}\n\n'
    "Is the answer correct and fully supported by the passage? Reply YES or NO."
)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```$", re.S)
_WORD = re.compile(r"[a-z0-9][a-z0-9\-]*[a-z0-9]|[a-z0-9]")
_CVE = re.compile(r"\bCVE-\d{4}-\d{4,}\b", re.IGNORECASE)
_STOP_WORDS = """about above after again against also among an and any are as at be because been before being between
    both but by can could did do does doing during each either for from further had has have having here how
    into is it its itself just may might more most must no nor not of off on once only or other our out over
    own same should so some such than that the their them then there these they this those through to too
    under until up use used uses using very via was were what when where which while who whom why will with
    within would you your yes"""
_STOP = frozenset(_STOP_WORDS.split())


@dataclass
class TeacherWriting:
    """Settings of the teacher-written generator (every one that changes an answer is part of the ledger key).

    Parameters
    ----------
    n : passages asked (one call each; a passage is asked again with another variant only when ``n``
        exceeds the eligible passages).
    generator : a GGUF path, a shipped alias (``qwen2.5-coder-0.5b``), a folder holding one GGUF, or the
        base URL of an OpenAI-compatible endpoint (``http://127.0.0.1:8080/v1``).
    served_model : the model name sent to an endpoint (ignored for GGUF generators).
    ledger : SQLite path, ``"default"`` or ``None`` (no resume).
    judge : also ask the LLM whether the passage supports each grounded answer (one more call each).
    """

    n: int
    generator: str = "qwen2.5-coder-0.5b"
    served_model: str = "default"
    ledger: str | None = "default"
    judge: bool = False
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 320
    max_passage_chars: int = 1200
    min_passage_chars: int = 150
    min_answer_support: float = 0.5
    n_ctx: int = 4096
    n_threads: int = 2
    timeout: float = 120.0
    max_retries: int = 2
    max_consecutive_errors: int = 10

    def settings(self) -> dict[str, Any]:
        """What shapes an answer besides the model and the passage (the ledger template id hashes it)."""
        return {
            "version": PROMPT_VERSION,
            "system": _SYSTEM,
            "user": _USER,
            "temperature": float(self.temperature),
            "top_p": float(self.top_p),
            "max_tokens": int(self.max_tokens),
            "max_passage_chars": int(self.max_passage_chars),
        }

    def template_id(self) -> str:
        blob = json.dumps(self.settings(), sort_keys=True).encode()
        return f"{PROMPT_VERSION}:{hashlib.sha256(blob).hexdigest()[:16]}"

    def judge_template_id(self) -> str:
        blob = json.dumps([JUDGE_VERSION, _JUDGE_SYSTEM, _JUDGE_USER, self.max_passage_chars]).encode()
        return f"{JUDGE_VERSION}:{hashlib.sha256(blob).hexdigest()[:16]}"


def _seed_of(seed: int, pid: str, variant: int) -> int:
    h = hashlib.sha256(f"{seed}\0{pid}\0{variant}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


def select_passages(
    passages: Sequence[Passage], n: int, seed: int, *, min_chars: int = 150
) -> list[tuple[Passage, int]]:
    """``n`` seeded ``(passage, variant)`` picks, taken round-robin over passage kinds (so 3000 CVEs do not
    crowd out 600 CAPEC entries); a passage comes back with variant 1, 2... only once every one was used.

    Eligible: a kind in :data:`KINDS`, a whole-entity passage (no ``#part``), at least ``min_chars`` of text.
    """
    by_kind: dict[str, list[Passage]] = {}
    for p in passages:
        if p.kind in KINDS and "#" not in p.id and len(p.text.strip()) >= min_chars:
            by_kind.setdefault(p.kind, []).append(p)
    if n <= 0 or not by_kind:
        return []
    rng = random.Random(seed)
    queues = {k: rng.sample(v, len(v)) for k, v in sorted(by_kind.items())}
    order: list[Passage] = []
    while any(queues.values()):
        for k in sorted(queues):
            if queues[k]:
                order.append(queues[k].pop())
    return [(order[i % len(order)], i // len(order)) for i in range(n)]


def _shown(p: Passage, max_chars: int) -> str:
    text = " ".join(p.text.split()) if len(p.text) > max_chars else p.text.strip()
    return text if len(text) <= max_chars else text[: max_chars - 1].rsplit(" ", 1)[0] + "…"


def messages_for(p: Passage, cfg: TeacherWriting) -> list[dict[str, str]]:
    text = _shown(p, cfg.max_passage_chars)
    return [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": _USER.format(pid=p.id, title=p.title, source=p.source, text=text)},
    ]


# ---- filters ----
@dataclass(frozen=True)
class Rejection:
    """Why one answer was not kept (``reason`` is a short key, counted in the report)."""

    passage: str
    variant: int
    reason: str
    detail: str = ""


def parse_answer(raw: str) -> tuple[dict[str, str] | None, str]:
    """``({question, answer, evidence}, "")`` from a reply, or ``(None, reason)``.

    Strict: the whole reply (stripped, optionally inside one Markdown code fence) must be one JSON object;
    text around it is malformed, not searched.
    """
    text = raw.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1).strip()
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return None, "malformed_json"
    if not isinstance(doc, dict):
        return None, "malformed_json"
    out: dict[str, str] = {}
    for key in ("question", "answer", "evidence"):
        v = doc.get(key)
        if not isinstance(v, str) or not v.strip():
            return None, "missing_field"
        out[key] = " ".join(v.split())
    if not 15 <= len(out["question"]) <= 400 or len(out["answer"]) > 800 or len(out["evidence"]) > 1500:
        return None, "bad_length"
    return out, ""


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"').split())


def _terms(text: str) -> list[str]:
    """Content words of ``text`` (no stop words; at least 4 characters or holding a digit)."""
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP and (len(w) >= 4 or any(c.isdigit() for c in w))]


def _ids(text: str) -> set[str]:
    return mentioned_ids(text) | {m.group(0).upper() for m in _CVE.finditer(text)}


def _longest_run(a: list[str], b: list[str]) -> int:
    """Length of the longest run of consecutive words of ``a`` that occurs in ``b`` in the same order."""
    best, prev = 0, [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def _quoted(evidence: str, hay: str) -> bool:
    """Is ``evidence`` a quote of the (normalized) passage ``hay``?

    Either every part of it (parts split at an ellipsis) is a substring of the passage, or a small model
    framed a real quote in words of its own ("The passage states that ..."): then the longest run of its
    words found verbatim in the passage must be at least 8 words and half of its words. Too short a quote
    (under 20 characters, unless the passage itself is short) grounds nothing.
    """
    ev = _norm(evidence).strip(" \"'.…")
    if len(ev.replace(" ", "")) < min(20, len(hay) // 2):
        return False
    parts = [s.strip() for s in re.split(r"\.\.\.|…", ev) if s.strip()]
    if parts and all(s in hay for s in parts):
        return True
    words, hay_words = _WORD.findall(ev), _WORD.findall(hay)
    run = _longest_run(words, hay_words)
    return run >= 8 and run >= len(words) / 2


def grounding_problem(qa: dict[str, str], p: Passage, shown: str, min_support: float = 0.5) -> tuple[str, str]:
    """``("", "")`` when the answer is grounded in the passage, else ``(reason, detail)``."""
    hay = _norm(f"{p.title}\n{shown}")
    if not _quoted(qa["evidence"], hay):
        return "evidence_not_in_passage", qa["evidence"][:120]
    known = _ids(f"{p.id} {p.entity} {p.title} {shown}") | {p.entity.upper()}
    foreign = sorted(_ids(f"{qa['question']} {qa['answer']}") - known)
    if foreign:
        return "foreign_id", ", ".join(foreign[:5])
    terms = _terms(qa["answer"])
    if not terms:
        return "answer_not_in_passage", "no key term"
    words = set(_WORD.findall(hay))
    stems = {w[:5] for w in words if len(w) >= 5}
    hit = sum(1 for t in terms if t in words or (len(t) >= 5 and t[:5] in stems))
    if hit / len(terms) < min_support:
        return "answer_not_in_passage", f"{hit}/{len(terms)} key terms in the passage"
    a, q = _norm(qa["answer"]).rstrip("."), _norm(qa["question"])
    if len(a) >= 8 and a in q:
        return "answer_in_question", ""
    return "", ""


def build_record(qa: dict[str, str], p: Passage, variant: int, shown: str, model_id: str) -> Record:
    """A free-answer record about ``p.entity``. ``entities`` lists the passage entity and every ID the
    quoted passage or the record names: the record may teach any fact of the passage, so the entity split
    routes it out when any of them is held out."""
    ents = [p.entity, *sorted(_ids(f"{shown}\n{qa['question']}\n{qa['answer']}") - {p.entity})]
    return Record(
        id=f"{TEMPLATE}:{p.id}:{variant}",
        template=TEMPLATE,
        form="free",
        subject=p.entity,
        question=qa["question"],
        answer=qa["answer"],
        entities=tuple(dict.fromkeys(ents)),
        provenance=(p.id,),
        core=qa["question"],
        url=p.url,
        extra={"source": p.source, "evidence": qa["evidence"], "generator": model_id},
    )


# ---- the generator ----
@dataclass
class WriterStats:
    asked: int = 0
    calls: int = 0
    cached: int = 0
    errors: int = 0
    judge_calls: int = 0
    judge_cached: int = 0
    call_seconds: float = 0.0
    recorded_seconds: float = 0.0
    rejected: Counter = field(default_factory=Counter)
    examples: list[dict[str, str]] = field(default_factory=list)


class TeacherWriter:
    """Writes grounded records with ``backend`` (anything with ``generate`` and ``model_id``) via the ledger.

    Parameters
    ----------
    cfg : the settings.
    backend : the LLM (:func:`distilsec.pipeline.cti_data.open_generator` opens the one a setting names;
        tests pass a fake).
    ledger : a :class:`~distilsec.teachers.ledger.TeacherLedger` (``None``: nothing stored, no resume).
        Both are passed in: this data-layer module imports nothing from the teachers.
    seed : the build's seed (passage picks and sampler seeds).
    """

    def __init__(self, cfg: TeacherWriting, backend: Any, ledger: Any, seed: int = 0) -> None:
        self.cfg = cfg
        self.backend = backend
        self.ledger = ledger
        self.seed = seed
        self.stats = WriterStats()
        self._ok_once = False
        self._consecutive = 0

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None
        close = getattr(self.backend, "close", None)
        if callable(close):
            close()

    # ---- one ledgered call ----
    def _ask(
        self, template: str, key: str, messages: list[dict[str, str]], *, temperature: float, max_tokens: int, seed: int
    ) -> tuple[str | None, bool]:
        """``(raw text, from_ledger)``; ``(None, False)`` for a failed call (counted, not stored).

        :attr:`last_finish` is the stored answer's ``finish_reason`` (``"length"``: cut at ``max_tokens``).
        """
        self.last_finish: str | None = None
        model = self.backend.model_id
        if self.ledger is not None:
            got = self.ledger.get_many(model, template, [key]).get(key)
            if got is not None:
                self.stats.recorded_seconds += got.seconds
                text = got.answer.get("text") if isinstance(got.answer, dict) else None
                self.last_finish = got.answer.get("finish_reason") if isinstance(got.answer, dict) else None
                return (text if isinstance(text, str) else ""), True
        t0 = time.perf_counter()
        try:
            res = self.backend.generate(
                messages, max_tokens=max_tokens, temperature=temperature, top_p=self.cfg.top_p, seed=seed
            )
            if not isinstance(res.answer, dict):
                raise DataError(f"backend answered {type(res.answer).__name__}, not a JSON object")
        except Exception as exc:
            self.stats.errors += 1
            self._consecutive += 1
            msg = f"{type(exc).__name__}: {str(exc)[:300]}"
            if not self._ok_once and (self._consecutive >= 2 or _unreachable(exc)):
                raise ConfigError(f"generator {self.cfg.generator!r} failed: {msg}") from None
            if self._consecutive >= self.cfg.max_consecutive_errors:
                raise DataError(
                    f"the generator failed {self._consecutive} calls in a row (last: {msg}); answers so far are "
                    "in the ledger, fix it and run the same command again to continue"
                ) from None
            log.warning("teacher-written call failed (%s); counted as llm_error", msg)
            return None, False
        self._ok_once = True
        self._consecutive = 0
        sec = float(res.seconds or time.perf_counter() - t0)
        self.stats.call_seconds += sec
        self.stats.recorded_seconds += sec
        if self.ledger is not None:
            self.ledger.put(
                model,
                template,
                key,
                res.answer,
                prompt_tokens=res.prompt_tokens,
                completion_tokens=res.completion_tokens,
                seconds=sec,
            )
        text = res.answer.get("text")
        self.last_finish = res.answer.get("finish_reason")
        return (text if isinstance(text, str) else ""), False

    def _reject(self, p: Passage, variant: int, reason: str, detail: str = "") -> None:
        self.stats.rejected[reason] += 1
        if len(self.stats.examples) < 20:
            self.stats.examples.append({"passage": p.id, "variant": str(variant), "reason": reason, "detail": detail})

    def _judge(self, qa: dict[str, str], p: Passage, shown: str, variant: int) -> str:
        msgs = [
            {"role": "system", "content": _JUDGE_SYSTEM},
            {"role": "user", "content": _JUDGE_USER.format(text=shown, question=qa["question"], answer=qa["answer"])},
        ]
        key = json.dumps({"passage": p.id, "text": shown, "qa": qa, "variant": variant}, sort_keys=True)
        raw, cached = self._ask(self.cfg.judge_template_id(), key, msgs, temperature=0.0, max_tokens=4, seed=0)
        self.stats.judge_cached += cached
        self.stats.judge_calls += not cached and raw is not None
        if raw is None:
            return "llm_error"
        word = raw.strip().strip("*\"'.").upper()
        if word.startswith("YES"):
            return ""
        return "judge_no" if word.startswith("NO") else "judge_unparsed"

    def write(self, passages: Sequence[Passage], tick: Callable[[int], None] | None = None) -> list[Record]:
        """Records from ``cfg.n`` picked passages (rejections counted in :attr:`stats`)."""
        cfg = self.cfg
        template = cfg.template_id()
        if self.ledger is not None:
            self.ledger.describe_template(template, {"kind": "cti-teacher-written", **cfg.settings()})
            if cfg.judge:
                self.ledger.describe_template(
                    cfg.judge_template_id(), {"kind": "cti-teacher-judge", "system": _JUDGE_SYSTEM, "user": _JUDGE_USER}
                )
        out: list[Record] = []
        picks = select_passages(passages, cfg.n, self.seed, min_chars=cfg.min_passage_chars)
        if len(picks) < cfg.n:
            log.warning("only %d passages are eligible for teacher-written records", len(picks))
        for i, (p, variant) in enumerate(picks):
            self.stats.asked += 1
            shown = _shown(p, cfg.max_passage_chars)
            sampler = _seed_of(self.seed, p.id, variant)
            key = json.dumps(
                {"passage": p.id, "text": shown, "variant": variant, "sampler_seed": sampler}, sort_keys=True
            )
            raw, cached = self._ask(
                template,
                key,
                messages_for(p, cfg),
                temperature=cfg.temperature,
                max_tokens=cfg.max_tokens,
                seed=sampler,
            )
            self.stats.cached += cached
            self.stats.calls += not cached and raw is not None
            if tick is not None:
                tick(i + 1)
            if raw is None:
                self._reject(p, variant, "llm_error")
                continue
            qa, why = parse_answer(raw)
            if qa is None:
                # a reply cut at max_tokens is its own reason: raise max_tokens, not the prompt's strictness
                why = "truncated" if self.last_finish == "length" and why == "malformed_json" else why
                self._reject(p, variant, why, raw[:160])
                continue
            why, detail = grounding_problem(qa, p, shown, cfg.min_answer_support)
            if why:
                self._reject(p, variant, why, detail)
                continue
            if cfg.judge:
                why = self._judge(qa, p, shown, variant)
                if why:
                    self._reject(p, variant, why)
                    continue
            out.append(build_record(qa, p, variant, shown, self.backend.model_id))
        return out

    def report(self) -> dict[str, Any]:
        s = self.stats
        return {
            "settings": asdict(self.cfg),
            "generator": self.cfg.generator,
            "model_id": getattr(self.backend, "model_id", None),
            "template_id": self.cfg.template_id(),
            "judge": self.cfg.judge,
            "ledger": None if self.cfg.ledger is None else str(self.cfg.ledger),
            "asked": s.asked,
            "calls": s.calls,
            "cached": s.cached,
            "errors": s.errors,
            "judge_calls": s.judge_calls,
            "judge_cached": s.judge_cached,
            "grounded": s.asked - sum(s.rejected.values()),
            "rejected": dict(s.rejected),
            "rejected_examples": list(s.examples),
            "call_seconds": round(s.call_seconds, 2),
            "recorded_seconds": round(s.recorded_seconds, 2),
        }


def _unreachable(exc: BaseException) -> bool:
    """An endpoint that cannot be reached at all (no point in asking it again)."""
    return type(exc).__name__ == "EndpointError" and "cannot reach" in str(exc)
