"""``distilsec cve``: map CVE descriptions to CWE (top-k, names, parents) and CVSS v3.1."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from distilsec.cli._common import console, friendly_errors, setup_logging


def read_inputs(source: str) -> list[tuple[str, str]]:
    """``(id, description)`` pairs from a description, a text/JSONL file, or an NVD / CVE JSON 5 file.

    A JSONL line needs ``description`` or ``text`` (``cve_id``/``id`` optional); JSON files are read as
    an NVD feed (2.0 or 1.1), a single NVD ``cve`` object, or a CVE JSON 5 record. A plain text file has
    one description per line. Anything that is not an existing file is the description itself.
    """
    from distilsec.data.readers.cve5 import parse_cve5
    from distilsec.data.readers.nvd import parse_nvd_feed
    from distilsec.data.skips import SkipCounter
    from distilsec.errors import DataError

    if source == "-":
        lines = sys.stdin.read().splitlines()
        return [(str(i), t.strip()) for i, t in enumerate(lines) if t.strip()]
    p = Path(source)
    if not p.is_file():
        if not source.strip():
            raise DataError("empty description")
        return [("", source.strip())]
    from distilsec._internal.textio import open_binary

    with open_binary(p) as f:
        raw = f.read().decode("utf-8-sig", errors="replace")
    if not raw.strip():
        raise DataError(f"{p} is empty")
    skips = SkipCounter()
    name = p.name.lower()
    if ".jsonl" in name:
        out = []
        for i, line in enumerate(raw.splitlines()):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                skips.skip("malformed_json", f"{p.name}:{i + 1}")
                continue
            text = obj.get("description") or obj.get("text") if isinstance(obj, dict) else None
            if not isinstance(text, str) or not text.strip():
                skips.skip("no_description", f"{p.name}:{i + 1}")
                continue
            out.append((str(obj.get("cve_id") or obj.get("id") or i), text.strip()))
    elif ".json" in name:
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(f"{p} is not valid JSON: {exc}") from None
        if isinstance(doc, dict) and "cveMetadata" in doc:
            rec = parse_cve5(doc, p.name, skips)
            out = [(rec.cve_id, rec.description)] if rec is not None else []
        else:
            out = [(r.cve_id, r.description) for r in parse_nvd_feed(doc, p.name, skips)]
    else:
        out = [(str(i), t.strip()) for i, t in enumerate(raw.splitlines()) if t.strip()]
    if skips.total:
        console.print(f"[yellow]skipped {skips.total} record(s)[/]: {skips.as_dict()}")
    if not out:
        raise DataError(f"{p}: no description to map (skips: {skips.as_dict()})")
    return out


def _table(rows: list[tuple[str, str]], preds: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(show_lines=False)
    for col in ("id", "CWE (top-k)", "back-off", "CVSS v3.1", "score"):
        table.add_column(col)
    for (rid, _), p in zip(rows, preds, strict=True):
        cwes = "\n".join(f"{c['id']} {c['score']:.2f} {c['name'][:48]}" for c in p["cwe"])
        b = p.get("cwe_backoff")
        back = f"{b['id']} ({b['score']:.2f}, +{b['level']})" if b else ""
        cv = p.get("cvss")
        table.add_row(rid, cwes, back, cv["vector"] if cv else "", f"{cv['base_score']} {cv['severity']}" if cv else "")
    console.print(table)


def cve(
    source: Annotated[str, typer.Argument(help="A description, a file (lines, JSONL, NVD/CVE JSON), or - for stdin.")],
    model: Annotated[Path, typer.Option("--model", "-m", help="CVE model bundle or CVE run folder.")] = Path("."),
    top_k: Annotated[int | None, typer.Option(help="CWEs per description (default: the bundle's).")] = None,
    backoff: Annotated[
        float | None, typer.Option(help="Back off to a parent CWE below this probability (default: the bundle's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """Map CVE descriptions to CWE weaknesses (with names and parents) and a CVSS v3.1 vector."""
    setup_logging(False)

    def go() -> None:
        from distilsec.bundle import load_model
        from distilsec.students.cve_model import require_cve_model

        rows = read_inputs(source)
        m = require_cve_model(load_model(model), model)
        preds = m.predict([t for _, t in rows], top_k=top_k, backoff_threshold=backoff)
        if as_json:
            for (rid, _), p in zip(rows, preds, strict=True):
                typer.echo(json.dumps({"id": rid, **p}, ensure_ascii=False))
        else:
            _table(rows, preds)

    friendly_errors(go)
