"""``distilsec ask``: a question to the local CTI assistant, streamed; or ``--serve`` it over HTTP."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from distilsec.cli._common import console, friendly_errors, setup_logging

__all__ = ["ask"]


def _ask(
    question: str | None, model: str, open_book: bool, k: int, data_dir: Path | None, max_tokens: int,
    as_json: bool, serve: bool, host: str, port: int, n_ctx: int, threads: int | None,
) -> None:  # fmt: skip
    from distilsec.errors import DataError
    from distilsec.teachers.llm.assistant.model import load_backend, load_index, resolve_model

    if not serve and not (question or "").strip():
        raise DataError('no question: distilsec ask "which mitigations apply to T1548?" --model M')
    resolve_model(model)  # a wrong --model fails before the index is built
    index = load_index(data_dir) if open_book else None
    backend = load_backend(model, n_ctx=n_ctx, n_threads=threads)
    if serve:
        import uvicorn

        from distilsec.teachers.llm.assistant.http import create_app

        console.print(f"CTI assistant on http://{host}:{port}/v1/chat/completions (open-book: {open_book})")
        uvicorn.run(create_app(backend, index, k=k, model_name=Path(str(model)).name), host=host, port=port)
        return
    from distilsec.teachers.llm.assistant.answer import AnswerStream, answer

    assert question is not None
    if as_json:
        res = answer(question, backend, index, k, max_tokens=max_tokens)
        assert not isinstance(res, AnswerStream)
        typer.echo(json.dumps(res.as_dict(), indent=2, ensure_ascii=False))
        return
    stream = answer(question, backend, index, k, stream=True, max_tokens=max_tokens)
    assert isinstance(stream, AnswerStream)
    for piece in stream:
        sys.stdout.write(piece)
        sys.stdout.flush()
    result = stream.result()
    sys.stdout.write("\n")
    cited = result.cited_passages()
    if cited:
        typer.echo("\nSources:")
        for p in cited:
            typer.echo(f"  [{p.id}] {p.title}" + (f"  {p.url}" if p.url else ""))
    elif result.passages:
        typer.echo("\nRetrieved (not cited): " + ", ".join(p.id for p in result.passages))


def ask(
    question: Annotated[str | None, typer.Argument(help="The question (not needed with --serve).")] = None,
    model: Annotated[
        str, typer.Option("--model", "-m", help="GGUF file, a run folder holding one, or an alias.")
    ] = "qwen2.5-coder-0.5b",
    open_book: Annotated[bool, typer.Option("--open-book", help="Quote the top-k knowledge passages.")] = False,
    k: Annotated[int, typer.Option("--k", min=1, max=20, help="Passages quoted open-book.")] = 4,
    data_dir: Annotated[
        Path | None, typer.Option(help="Knowledge data root (default $DISTILSEC_DATA or ../shared/data).")
    ] = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="Longest answer, in tokens.")] = 384,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer and its citations as JSON.")] = False,
    serve: Annotated[bool, typer.Option("--serve", help="Serve OpenAI-compatible /v1/chat/completions.")] = False,
    host: Annotated[str, typer.Option(help="Address to listen on with --serve.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on with --serve.")] = 8088,
    n_ctx: Annotated[int, typer.Option(help="Context tokens of the model.")] = 4096,
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: the cores, at most 8).")] = None,
) -> None:
    """Ask the local CTI assistant a question; the answer streams, then the passages it cited.

    Closed-book by default; ``--open-book`` retrieves the top-k ATT&CK / CWE / CAPEC / CVE passages and asks
    the model to cite them. Nothing leaves the machine.
    """
    setup_logging(False)
    friendly_errors(
        lambda: _ask(question, model, open_book, k, data_dir, max_tokens, as_json, serve, host, port, n_ctx, threads)
    )
