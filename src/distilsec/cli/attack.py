"""``distilsec attack``: tag threat reports with MITRE ATT&CK techniques, sentence by sentence.

Two ways to read the input:

- reports (default): each file (text, Markdown, HTML), each report file of a folder, or stdin is one report,
  split into sentences; the output is, per report, the techniques found (best score, count, evidence) and,
  with ``--json``, every sentence's tags too;
- ``--per-line``: each input line is one sentence, streamed in batches (a file of any length); with
  ``--json`` one JSON object per input line, ``{"top": {id, name, tactic, score}, "techniques": [...]}``,
  and ``{"top": null, "techniques": []}`` for a blank line, so that line numbers stay aligned. That shape is
  an interface other tools rely on: see :func:`distilsec.serving.tagging.sentence_record`.

Results go to standard output (JSON) or, as tables for a person, to standard error with the progress and the
skip counts, as ``distilsec cve`` does. ``--navigator layer.json`` also writes an ATT&CK Navigator layer of
every technique found, scored and commented with its evidence sentences.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from distilsec.cli._common import console, friendly_errors, setup_logging

if TYPE_CHECKING:
    from rich.progress import Progress

    from distilsec.data.skips import SkipCounter
    from distilsec.serving.tagging import TechniqueTally
    from distilsec.students.attack_model import AttackModel

__all__ = ["attack", "MODEL_ENV", "resolve_model_path"]

#: the environment variable naming the default tagger (a bundle or an ATT&CK run folder)
MODEL_ENV = "DISTILSEC_ATTACK_MODEL"
#: characters of the evidence sentence shown in a table
_TABLE_EVIDENCE = 90


def resolve_model_path(model: Path | None) -> Path:
    """``--model``, else ``$DISTILSEC_ATTACK_MODEL``, else one line saying how to get a tagger."""
    from distilsec.errors import BundleError

    if model is not None:
        return model
    env = os.environ.get(MODEL_ENV, "").strip()
    if env:
        return Path(env)
    raise BundleError(
        f"no ATT&CK tagger given: pass --model BUNDLE_OR_RUN_DIR or set {MODEL_ENV}; "
        "train one with `distilsec run configs/attack-techniques.yaml`"
    )


class _Output:
    """Where results go, and the shared state of one command: the tagger, the options, the progress."""

    def __init__(self, model: AttackModel, *, as_json: bool, top_k: int | None, batch_size: int, bar: Progress | None):
        self.model = model
        self.as_json = as_json
        self.top_k = top_k
        self.batch_size = batch_size
        self.bar = bar
        self.task = bar.add_task("tagging sentences", total=None) if bar is not None else None
        self.n_sentences = 0

    def advance(self, n: int) -> None:
        self.n_sentences += n
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task, n)

    def tally(self) -> TechniqueTally:
        from distilsec.serving.tagging import TechniqueTally

        return TechniqueTally(self.model.index.describe)


# ------------------------------------------------------------------------------------------- tables


def _techniques_table(title: str, tally: TechniqueTally) -> None:
    """The report-level table: technique, name, tactic, best score, count, one evidence sentence."""
    from rich.markup import escape
    from rich.table import Table

    results = tally.results()
    head = f"[bold]{escape(title)}[/]: {tally.n_sentences:,} sentences, {tally.n_tagged:,} tagged"
    if not results:
        console.print(f"{head}; no technique at or above its threshold")
        return
    table = Table(title=head, title_justify="left", show_lines=False)
    for col in ("technique", "name", "tactic", "best", "count", "evidence"):
        table.add_column(col, no_wrap=col in ("technique", "best", "count"))
    for r in results:
        ev = r["evidence"][0]["text"] if r["evidence"] else ""
        ev = ev if len(ev) <= _TABLE_EVIDENCE else ev[: _TABLE_EVIDENCE - 1] + "…"
        table.add_row(
            r["id"], escape(r["name"]), ", ".join(r["tactics"]), f"{r['score']:.2f}", str(r["count"]), escape(ev)
        )
    console.print(table)


def _sentences_table(start: int, texts: list[str | None], recs: list[dict[str, Any] | None], top_k: bool) -> None:
    """``--per-line`` without ``--json``: one row per input line (blank lines left out)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_header=start == 0, show_lines=False, box=None)
    for col in ("line", "top", "score", "techniques") + (("candidates",) if top_k else ()):
        table.add_column(col)
    for i, (text, rec) in enumerate(zip(texts, recs, strict=True)):
        if text is None or rec is None:
            continue
        top = rec["top"]
        row = [
            str(start + i + 1),
            escape(f"{top['id']} {top['name']}"),
            f"{top['score']:.2f}",
            ", ".join(t["id"] for t in rec["techniques"]) or "-",
        ]
        if top_k:
            row.append(", ".join(f"{t['id']} {t['score']:.2f}" for t in rec["candidates"]))
        table.add_row(*row)
    console.print(table)


# ------------------------------------------------------------------------------------------- the two modes


def _tag_reports(out: _Output, sources: list[str], max_bytes: int, skips: SkipCounter, every: TechniqueTally) -> int:
    """Default mode: each report split into sentences, tagged in batches; returns the reports tagged."""
    from distilsec.serving.reports import read_reports
    from distilsec.serving.tagging import sentence_record, tag_batches

    n_reports = 0
    for report in read_reports(sources, max_bytes=max_bytes, skips=skips):
        n_reports += 1
        tally = out.tally()
        if out.as_json:
            sys.stdout.write('{"report": ' + json.dumps(report.name, ensure_ascii=False) + ', "sentences": [')
        start = 0
        for batch, tags in tag_batches(out.model, report.sentences, batch_size=out.batch_size, top_k=out.top_k):
            tally.add_many(start, batch, tags)
            every.add_many(start, batch, tags, report=report.name)
            if out.as_json:
                recs = (
                    json.dumps(
                        {"text": text, **sentence_record(tag, candidates=out.top_k is not None)}, ensure_ascii=False
                    )
                    for text, tag in zip(batch, tags, strict=True)
                )
                sys.stdout.write((", " if start else "") + ", ".join(recs))
            start += len(batch)
            out.advance(len(batch))
        if out.as_json:
            sys.stdout.write('], "techniques": ' + json.dumps(tally.results(), ensure_ascii=False) + "}\n")
            sys.stdout.flush()
        else:
            _techniques_table(report.name, tally)
    return n_reports


def _line_batches(lines: Iterator[str | None], size: int) -> Iterator[list[str | None]]:
    batch: list[str | None] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _tag_lines(out: _Output, sources: list[str], skips: SkipCounter, every: TechniqueTally) -> int:
    """``--per-line``: every line of every input one sentence, one record per line; returns the lines read."""
    from distilsec.serving.reports import iter_lines, iter_report_sources
    from distilsec.serving.tagging import sentence_record

    candidates = out.top_k is not None
    blank = json.dumps({"top": None, "techniques": []})
    n_lines = 0
    for source, _ in iter_report_sources(sources, skips):
        tally = out.tally()
        start = 0
        name = "<stdin>" if source == "-" else source
        for batch in _line_batches(iter_lines(source, skips=skips), out.batch_size):
            present = [t for t in batch if t is not None]
            tags = iter(out.model.tag(present, top_k=out.top_k) if present else [])
            recs: list[dict[str, Any] | None] = []
            for i, text in enumerate(batch):
                if text is None:
                    recs.append(None)
                    continue
                tag = next(tags)
                tally.add(start + i, text, tag)
                every.add(start + i, text, tag, report=name)
                recs.append(sentence_record(tag, candidates=candidates))
            if out.as_json:
                sys.stdout.write("".join((json.dumps(r, ensure_ascii=False) if r else blank) + "\n" for r in recs))
            else:
                _sentences_table(start, batch, recs, candidates)
            start += len(batch)
            out.advance(len(present))
        n_lines += start
        if out.as_json:
            sys.stdout.flush()
        elif start:
            _techniques_table(name, tally)
    return n_lines


def _summary(skips: SkipCounter, what: str, n: int) -> None:
    if skips.total:
        console.print(f"[yellow]skipped {skips.total} input(s)[/]: {skips.as_dict()}")
    if skips.notes:
        console.print(f"[yellow]read with changes[/]: {skips.notes_dict()}")
    if n:
        console.print(f"tagged {n:,} {what}", style="dim")


def attack(
    reports: Annotated[
        list[str],
        typer.Argument(
            help="Reports: text, Markdown or HTML files, folders of them, or - for stdin.", show_default=False
        ),
    ],
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", help=f"ATT&CK tagger bundle or ATT&CK run folder (default: ${MODEL_ENV})."),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="JSON on stdout: one document per report (one object per line with --per-line)."),
    ] = False,
    per_line: Annotated[
        bool,
        typer.Option(
            "--per-line", help="Each input line is one sentence: one result per line (blank lines too), streamed."
        ),
    ] = False,
    top_k: Annotated[
        int | None, typer.Option("--top-k", help="Also list each sentence's K best techniques, whatever their scores.")
    ] = None,
    navigator: Annotated[
        Path | None, typer.Option("--navigator", help="Write an ATT&CK Navigator layer (JSON) of the techniques found.")
    ] = None,
    max_bytes: Annotated[
        int, typer.Option("--max-bytes", help="Largest report read (bytes); a larger one is refused.")
    ] = 50 * 1024 * 1024,
    batch_size: Annotated[int, typer.Option(help="Sentences tagged per batch (bounds memory).")] = 1024,
    progress: Annotated[bool, typer.Option(help="Show sentences done and sentences/s on stderr.")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Tag threat reports with MITRE ATT&CK techniques (ID, name, tactic, score) and aggregate per report."""
    setup_logging(verbose)
    friendly_errors(lambda: _run(reports, model, as_json, per_line, top_k, navigator, max_bytes, batch_size, progress))


def _run(
    reports: list[str],
    model: Path | None,
    as_json: bool,
    per_line: bool,
    top_k: int | None,
    navigator: Path | None,
    max_bytes: int,
    batch_size: int,
    show_progress: bool,
) -> None:
    from distilsec._internal.console import progress
    from distilsec.bundle import load_model
    from distilsec.data.skips import SkipCounter
    from distilsec.errors import DataError, DistilsecError
    from distilsec.students.attack_model import require_attack_model

    if top_k is not None and top_k < 1:
        raise DistilsecError("--top-k must be at least 1")
    if max_bytes < 1 or batch_size < 1:
        raise DistilsecError("--max-bytes and --batch-size must be at least 1")
    if reports.count("-") > 1:
        raise DistilsecError("standard input (-) can be read only once")
    if navigator is not None and (not navigator.parent.is_dir() or navigator.is_dir()):
        raise DataError(f"cannot write the layer {navigator}: give a file name in an existing folder")
    path = resolve_model_path(model)
    tagger = require_attack_model(load_model(path), path)
    skips = SkipCounter()
    with progress("events", disable=not show_progress) as bar:
        out = _Output(tagger, as_json=as_json, top_k=top_k, batch_size=batch_size, bar=bar)
        every = out.tally()
        if per_line:
            n = _tag_lines(out, reports, skips, every)
            what = f"line(s), {out.n_sentences:,} sentence(s)"
        else:
            n = _tag_reports(out, reports, max_bytes, skips, every)
            what = f"report(s), {out.n_sentences:,} sentence(s)"
    _summary(skips, what, n)
    if not n:
        raise DataError(f"nothing to tag in {' '.join(reports)} (skipped: {skips.as_dict() or 'none'})")
    if navigator is not None:
        _write_navigator(navigator, every, tagger, path, reports)


def _write_navigator(
    path: Path, every: TechniqueTally, tagger: AttackModel, model_path: Path, reports: list[str]
) -> None:
    from distilsec.bundle import read_manifest, resolve_bundle
    from distilsec.serving.navigator import ATTACK_VERSION, navigator_layer, write_layer

    manifest = read_manifest(resolve_bundle(model_path))
    names = ", ".join("stdin" if r == "-" else Path(r).name for r in reports)
    layer = navigator_layer(
        every.results(),
        name=f"distilsec: {names}"[:120],
        description=(
            f"Techniques tagged by distilsec attack in {names}: score = the tagger's best probability (%), "
            "comment = the best evidence sentences."
        ),
        domain=str(manifest.get("domain") or "enterprise-attack"),
        attack_version=str(manifest.get("attack_version") or ATTACK_VERSION),
        tactics_of=tagger.index.tactics,
        metadata={"model": str(model_path), "sentences": str(every.n_sentences)},
    )
    write_layer(layer, path)
    console.print(f"wrote the Navigator layer {path} ({len(every.results())} techniques)")
