"""``distilsec bench``: CTI-Bench-compatible evaluation of a CVE model (RCM accuracy, VSP MAD) and of an ATT&CK
tagger (ATE micro/macro-F1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from distilsec.cli._common import console, friendly_errors, setup_logging

bench_app = typer.Typer(
    no_args_is_help=True, help="Benchmark a CVE model or an ATT&CK tagger on CTI-Bench-format files."
)

ModelOpt = Annotated[
    Path,
    typer.Option(
        "--model", "-m", help="CVE model bundle or CVE run folder; or an LLM (GGUF file, folder holding one, alias)."
    ),
]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="Evaluate only the first N rows (LLM only).")]
ThreadsOpt = Annotated[int | None, typer.Option(help="CPU threads of an LLM (default: the cores, at most 8).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print every metric as JSON after the summary line.")]


def _run(
    task: str, file: Path, model: Path, as_json: bool, limit: int | None = None, threads: int | None = None
) -> None:
    from distilsec.teachers.llm.assistant.model import is_llm_model

    if is_llm_model(model):
        _run_generative(task, file, str(model), as_json, limit, threads)
        return
    from distilsec.bundle import load_model
    from distilsec.data.readers.cti_bench import read_bench
    from distilsec.evaluation.cve_metrics import evaluate_rcm, evaluate_vsp
    from distilsec.students.cve_model import require_cve_model

    bench = read_bench(file, task)
    cve_model = require_cve_model(load_model(model), model)
    texts = [it.description for it in bench.items]
    if task == "rcm":
        metrics = evaluate_rcm([it.gt for it in bench.items], cve_model.rank_cwes(texts, k=3))
        typer.echo(f"accuracy: {metrics['accuracy']:.3f}")
    else:
        if cve_model.cvss_model is None:
            from distilsec.errors import BundleError

            raise BundleError(f"{model} has no CVSS model; train one with a 'cve.cvss' section")
        metrics = evaluate_vsp([it.gt for it in bench.items], cve_model.cvss_model.predict_vectors(texts))
        typer.echo(f"mad: {metrics['mad']:.2f}")
    metrics.update(file=str(file), rows=bench.n_rows, skipped=bench.skips)
    if cve_model.training_ids is not None:  # a benchmark the model was trained on measures memory, not skill
        seen = bench.ids & set(cve_model.training_ids)
        metrics["benchmark_ids_in_training_data"] = len(seen)
        if seen:
            console.print(
                f"[bold yellow]warning[/]: {len(seen):,} of the file's {len(bench.ids):,} CVE IDs are in this "
                "model's training data, so this is not a held-out figure (a run's time-split model is "
                "RUN_DIR/cve-model-heldout)"
            )
    if bench.skips:
        console.print(f"[yellow]{sum(bench.skips.values())} of {bench.n_rows} rows skipped[/]: {bench.skips}")
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))


@bench_app.command("cti-rcm")
def cti_rcm(
    file: Path,
    model: ModelOpt = Path("."),
    as_json: JsonOpt = False,
    limit: LimitOpt = None,
    threads: ThreadsOpt = None,
) -> None:
    """Root-cause mapping: exact-match accuracy of the top CWE against GT (prints ``accuracy: 0.xxx``).

    With an LLM as ``--model`` each row's Prompt is answered in prose and the last CWE ID it names is read.
    """
    setup_logging(False)
    friendly_errors(lambda: _run("rcm", file, model, as_json, limit, threads))


@bench_app.command("cti-vsp")
def cti_vsp(
    file: Path,
    model: ModelOpt = Path("."),
    as_json: JsonOpt = False,
    limit: LimitOpt = None,
    threads: ThreadsOpt = None,
) -> None:
    """Severity prediction: mean absolute deviation of the CVSS v3 base score (prints ``mad: x.xx``).

    With an LLM as ``--model`` each row's Prompt is answered in prose and the last CVSS vector it gives is read.
    """
    setup_logging(False)
    friendly_errors(lambda: _run("vsp", file, model, as_json, limit, threads))


def _progress(label: str) -> Callable[[int, int], None]:
    import sys

    def show(done: int, total: int) -> None:
        if sys.stderr.isatty():
            console.print(f"{label}: {done}/{total}", end="\r")

    return show


def _run_generative(task: str, file: Path, model: str, as_json: bool, limit: int | None, threads: int | None) -> None:
    from distilsec.data.readers.cti_bench import read_bench
    from distilsec.evaluation.cti_mcq import evaluate_generative
    from distilsec.teachers.llm.assistant.model import load_backend, resolve_model

    read_bench(file, task)  # a bad file fails before the model loads
    resolve_model(model)
    backend = load_backend(model, n_threads=threads)
    metrics = evaluate_generative(file, task, backend, limit=limit, progress=_progress(f"cti-{task}"))
    metrics.update(file=str(file), model=model)
    n = metrics["evaluated"]
    typer.echo(f"questions: {n}  parse failures: {metrics['parse_failures']}")
    typer.echo(f"seconds per question: {metrics['seconds_per_question']:.2f}")
    if metrics.get("skipped"):
        console.print(
            f"[yellow]{sum(metrics['skipped'].values())} of {metrics['rows']} rows skipped[/]: {metrics['skipped']}"
        )
    if as_json:
        import math

        typer.echo(
            json.dumps(
                {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()}, indent=2
            )
        )
    if task == "rcm":
        typer.echo(f"accuracy: {metrics['accuracy']:.3f}")
    else:
        typer.echo(f"mad: {metrics['mad']:.2f}")


def _run_mcq(
    file: Path, model: str, open_book: bool, limit: int | None, scoring: str, k: int | None, data_dir: Path | None,
    as_json: bool, threads: int | None, style: str = "benchmark", max_chars: int | None = None,
    excerpt: str | None = None, main_first: bool | None = None, compact: bool | None = None,
) -> None:  # fmt: skip
    from distilsec.errors import DataError
    from distilsec.evaluation.cti_mcq import evaluate_mcq, read_mcq
    from distilsec.teachers.llm.assistant.mcq import (
        MCQ_COMPACT,
        MCQ_EXCERPT,
        MCQ_K,
        MCQ_MAIN_FIRST,
        MCQ_PASSAGE_CHARS,
        SCORING,
    )
    from distilsec.teachers.llm.assistant.model import load_backend, load_index, resolve_model
    from distilsec.teachers.llm.assistant.prompts import EXCERPTS, MCQ_STYLES

    if scoring not in SCORING:
        raise DataError(f"--scoring must be one of {', '.join(SCORING)}, not {scoring!r}")
    if style not in MCQ_STYLES:
        raise DataError(f"--prompt-style must be one of {', '.join(MCQ_STYLES)}, not {style!r}")
    if excerpt is not None and excerpt not in EXCERPTS:
        raise DataError(f"--excerpt must be one of {', '.join(EXCERPTS)}, not {excerpt!r}")
    k = MCQ_K if k is None else k
    max_chars = MCQ_PASSAGE_CHARS if max_chars is None else max_chars
    excerpt = MCQ_EXCERPT if excerpt is None else excerpt
    main_first = MCQ_MAIN_FIRST if main_first is None else main_first
    compact = MCQ_COMPACT if compact is None else compact
    items, skips, n_rows = read_mcq(file)  # a bad file fails before the model loads
    resolve_model(model)
    items = items[:limit] if limit else items
    index = load_index(data_dir) if open_book else None
    backend = load_backend(model, n_threads=threads)
    metrics = evaluate_mcq(
        items, backend, index=index, k=k, scoring=scoring, style=style, progress=_progress("cti-mcq"),
        max_chars=max_chars, excerpt=excerpt, main_first=main_first, compact=compact,
    )  # fmt: skip
    metrics.update(file=str(file), model=model, rows=n_rows, skipped=skips)
    if skips:
        console.print(f"[yellow]{sum(skips.values())} of {n_rows} rows skipped[/]: {skips}")
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
    opts = "".join([", main first" * main_first, ", compact" * compact])
    book = f"open-book (k={k} x {max_chars} chars, {excerpt}{opts})" if open_book else "closed-book"
    typer.echo(f"questions: {metrics['n']}  {book}  scoring: {scoring}  prompt: {style}")
    typer.echo(f"parse failures: {metrics['parse_failures']}")
    typer.echo(f"seconds per question: {metrics['seconds_per_question']:.2f}")
    typer.echo(f"accuracy: {metrics['accuracy']:.3f}")


@bench_app.command("cti-mcq")
def cti_mcq(
    file: Path,
    model: Annotated[
        str, typer.Option("--model", "-m", help="GGUF file, a run folder holding one, or an alias.")
    ] = "qwen2.5-coder-0.5b",
    open_book: Annotated[bool, typer.Option("--open-book", help="Quote the top-k knowledge passages.")] = False,
    limit: LimitOpt = None,
    scoring: Annotated[
        str, typer.Option(help="generate (the benchmark's protocol: strict letter parsing) or logprob (A-D log-probs).")
    ] = "generate",
    k: Annotated[
        int | None,
        typer.Option("--k", min=1, max=20, help="Passages quoted open-book (default: MCQ_K, see BENCHMARKS.md 13)."),
    ] = None,
    max_chars: Annotated[
        int | None,
        typer.Option(
            "--max-chars",
            min=20,
            max=5000,
            help="Characters quoted of each passage open-book (default: MCQ_PASSAGE_CHARS, see BENCHMARKS.md 13).",
        ),
    ] = None,
    excerpt: Annotated[
        str | None,
        typer.Option(
            "--excerpt",
            help="Which --max-chars of a passage open-book quotes: head (its first characters) or focused (the "
            "window that best matches the question and options). Default: MCQ_EXCERPT.",
        ),
    ] = None,
    main_first: Annotated[
        bool | None,
        typer.Option(
            "--main-first/--no-main-first",
            help="Open-book: a named entity's own passage (its definition) before its other parts. "
            "Default: MCQ_MAIN_FIRST.",
        ),
    ] = None,
    compact: Annotated[
        bool | None,
        typer.Option(
            "--compact/--no-compact",
            help="Open-book: the short passage header ('Reference:', no '---'). Default: MCQ_COMPACT.",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Knowledge data root (default $DISTILSEC_DATA or ../shared/data).")
    ] = None,
    prompt_style: Annotated[
        str,
        typer.Option(
            help="benchmark (the file's Prompt, else CTI-Bench's instruction) or plain (question, options, "
            "'reply with the letter' last: less letter bias in small models)."
        ),
    ] = "benchmark",
    as_json: JsonOpt = False,
    threads: ThreadsOpt = None,
) -> None:
    """Multiple-choice CTI questions with the benchmark's own prompt (prints ``accuracy: 0.xxx`` last).

    Closed-book by default (the benchmark's setting); ``--open-book`` retrieves passages with the question and
    its options. ``--scoring generate`` reads the generated letter strictly (an unparseable answer is a counted
    failure, scored wrong); ``logprob`` picks the most likely of the tokens A-D.
    """
    setup_logging(False)
    friendly_errors(
        lambda: _run_mcq(
            file,
            model,
            open_book,
            limit,
            scoring,
            k,
            data_dir,
            as_json,
            threads,
            prompt_style,
            max_chars,
            excerpt,
            main_first,
            compact,
        )  # fmt: skip
    )


def _run_ate(file: Path, model: Path | None, level: str, as_json: bool, batch_size: int) -> None:
    from distilsec.bundle import load_model
    from distilsec.cli.attack import resolve_model_path
    from distilsec.data.readers.cti_ate import read_ate
    from distilsec.data.skips import SkipCounter
    from distilsec.errors import DistilsecError
    from distilsec.evaluation.ate_metrics import LEVELS, at_level, ate_metrics, resolve_level
    from distilsec.serving.reports import report_sentences
    from distilsec.serving.tagging import tag_batches
    from distilsec.students.attack_model import require_attack_model

    if level not in LEVELS:
        raise DistilsecError(f"--level must be one of {', '.join(LEVELS)}, not {level!r}")
    skips = SkipCounter()
    items = read_ate(file, skips=skips)  # a bad file fails before the model loads (seconds)
    path = resolve_model_path(model)
    tagger = require_attack_model(load_model(path), path)
    # every passage split as `distilsec attack` splits a report; sentences of all passages tagged in batches
    owner = [i for i, it in enumerate(items) for _ in report_sentences(it.description)]
    sentences = [s for it in items for s in report_sentences(it.description)]
    predicted: list[set[str]] = [set() for _ in items]
    done = 0
    for batch, tags in tag_batches(tagger, sentences, batch_size=batch_size):
        for j, tag in enumerate(tags):
            predicted[owner[done + j]].update(t["id"] for t in tag["techniques"])
        done += len(batch)
    lvl = resolve_level([it.gt for it in items], level)
    gt = [at_level(it.gt, lvl, tagger.index.parent) for it in items]
    pred = [at_level(p, lvl, tagger.index.parent) for p in predicted]
    metrics = ate_metrics(gt, pred)
    known = set(at_level([c for c in tagger.classes_ if c != "none"], lvl, tagger.index.parent))
    unknown = sorted({t for g in gt for t in g} - known)
    n_rows = len(items) + skips.total
    why = " (auto: the GT names no sub-technique)" if level == "auto" and lvl == "parent" else ""
    typer.echo(f"rows: {len(items)} of {n_rows} ({skips.total} skipped), {len(sentences)} sentences")
    typer.echo(f"level: {lvl}{why}")
    typer.echo(f"micro-precision: {metrics['micro_precision']:.3f}  micro-recall: {metrics['micro_recall']:.3f}")
    typer.echo(f"mean precision: {metrics['mean_precision']:.3f}  mean recall: {metrics['mean_recall']:.3f}")
    typer.echo(f"exact-set match: {metrics['exact_match']:.3f}")
    typer.echo(f"macro-F1: {metrics['macro_f1']:.3f}")
    typer.echo(f"micro-F1: {metrics['micro_f1']:.3f}")
    if unknown:
        console.print(
            f"[yellow]note[/]: {len(unknown)} GT technique(s) are not among the tagger's classes, so it cannot "
            f"answer them: {', '.join(unknown[:10])}{' ...' if len(unknown) > 10 else ''}"
        )
    if skips.total:
        console.print(f"[yellow]{skips.total} of {n_rows} rows skipped[/]: {skips.as_dict()}")
    metrics.update(
        file=str(file), level=lvl, rows_read=n_rows, skipped=skips.as_dict(), sentences=len(sentences),
        gt_techniques_unknown_to_model=unknown,
    )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))


@bench_app.command("cti-ate")
def cti_ate(
    file: Path,
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", help="ATT&CK tagger bundle or run folder (default: $DISTILSEC_ATTACK_MODEL)."),
    ] = None,
    level: Annotated[
        str, typer.Option(help="auto (parent when the GT names no sub-technique), exact or parent.")
    ] = "auto",
    as_json: JsonOpt = False,
    batch_size: Annotated[int, typer.Option(help="Sentences tagged per batch.")] = 1024,
) -> None:
    """Technique extraction: each passage's tagged techniques against GT (micro/macro-F1, exact-set match).

    The last line printed is ``micro-F1: 0.xxx``.
    """
    setup_logging(False)
    friendly_errors(lambda: _run_ate(file, model, level, as_json, batch_size))
