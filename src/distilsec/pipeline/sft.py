"""``distilsec sft``: config → chat data → base model + LoRA → train (resuming) → export → report.

Read top to bottom; each stage logs one line. The run folder holds ``config.yaml`` (the resolved config),
``checkpoints/`` (resumable), ``adapter/``, ``merged/``, ``model-<kind>.gguf``, ``sft-report.json`` and a
``MODEL_CARD.md`` with the cost (tokens/s, seconds per 1,000 records, peak memory), so that a CPU smoke run
and a GPU run can be compared from their folders alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from distilsec._internal.console import attach_run_log
from distilsec.errors import ConfigError, DataError
from distilsec.teachers.llm.sft.config import SftConfig
from distilsec.teachers.llm.sft.data import ChatData, encode_all, read_chat_jsonl

__all__ = ["run_sft", "data_files"]

log = logging.getLogger("distilsec.sft")


def data_files(cfg: SftConfig) -> tuple[Path, Path | None]:
    """train.jsonl and (when present or named) val.jsonl, from a folder or a file."""
    train = Path(cfg.data.train)
    folder = train if train.is_dir() else train.parent
    if train.is_dir():
        train = train / "train.jsonl"
    if not train.is_file():
        raise DataError(f"data.train: {train} not found (build it with `distilsec cti-data --out {folder}`)")
    val = Path(cfg.data.val) if cfg.data.val else folder / "val.jsonl"
    if cfg.data.val and not val.is_file():
        raise DataError(f"data.val: {val} not found")
    return train, val if val.is_file() else None


def _fingerprint(cfg: SftConfig, train_file: Path) -> dict[str, Any]:
    """What a checkpoint's weights depend on: resuming with any of it changed would mix two different runs.

    Steps, epochs, checkpointing and export settings may change between a run and its resumption.
    """
    train = cfg.train.model_dump(exclude={"max_steps", "epochs", "save_every", "keep_checkpoints"})
    return {
        "model": cfg.model.name,
        "data": cfg.data.model_dump(exclude={"train", "val"}),
        "train_sha256": hashlib.sha256(train_file.read_bytes()).hexdigest(),
        "lora": cfg.lora.model_dump(),
        "train": train,
    }


def _check_resume(out: Path, fingerprint: dict[str, Any], resume: bool) -> None:
    path = out / "fingerprint.json"
    if resume and path.is_file() and any((out / "checkpoints").glob("step-*")):
        old = json.loads(path.read_text())
        changed = sorted(k for k in fingerprint if old.get(k) != fingerprint[k])
        if changed:
            raise ConfigError(
                f"{out} holds checkpoints of a different run ({', '.join(changed)} changed): "
                "use another --out, or --no-resume to start over"
            )
    path.write_text(json.dumps(fingerprint, indent=1))


def _peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1e6 if sys.platform == "darwin" else rss / 1e3  # bytes on macOS, KiB on Linux


def _peak_gpu_mb(device: str) -> float | None:
    if device != "cuda":
        return None
    import torch

    return torch.cuda.max_memory_allocated() / 1e6


def run_sft(cfg: SftConfig, *, out: Path, resume: bool = True, on_step: Any = None) -> dict[str, Any]:
    """Run one SFT job into ``out``; returns the report (also written as ``sft-report.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    handler = attach_run_log(out)
    try:
        return _run(cfg, out, resume, on_step)
    finally:
        logging.getLogger("distilsec").removeHandler(handler)
        handler.close()


def _run(cfg: SftConfig, out: Path, resume: bool, on_step: Any) -> dict[str, Any]:
    from distilsec.teachers.llm.sft import export
    from distilsec.teachers.llm.sft.model import add_lora, load_base
    from distilsec.teachers.llm.sft.trainer import train

    (out / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    t_start = time.perf_counter()
    train_file, val_file = data_files(cfg)
    _check_resume(out, _fingerprint(cfg, train_file), resume)
    train_raw = read_chat_jsonl(train_file, limit=cfg.data.limit)
    val_raw = read_chat_jsonl(val_file) if val_file else ChatData(path="", records=[])
    log.info(
        "data: %d train records (%d skipped), %d val", len(train_raw.records), train_raw.skipped, len(val_raw.records)
    )

    loaded = load_base(cfg.model.name, cfg.model.device, cfg.model.dtype)
    log.info(
        "model: %s on %s (%s), loaded in %.1f s", loaded.source.path, loaded.device, loaded.dtype, loaded.load_seconds
    )
    train_enc, too_long = encode_all(loaded.tokenizer, train_raw.records, cfg.data.max_length)
    val_enc, _ = encode_all(loaded.tokenizer, val_raw.records, cfg.data.max_length)
    if not train_enc:
        raise DataError(f"{train_file}: no usable training record ({train_raw.skipped} malformed, {too_long} too long)")

    model = add_lora(
        loaded.model,
        r=cfg.lora.r,
        alpha=cfg.lora.alpha,
        dropout=cfg.lora.dropout,
        target_modules=cfg.lora.target_modules,
        gradient_checkpointing=cfg.train.gradient_checkpointing,
        seed=cfg.train.seed,
    )
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log.info("lora: %d trainable of %d parameters", trainable, total)
    t = cfg.train
    result = train(
        model,
        train_enc,
        val_enc,
        out_dir=out,
        pad_id=int(loaded.tokenizer.pad_token_id),
        device=loaded.device,
        lr=t.lr,
        epochs=t.epochs,
        max_steps=t.max_steps,
        batch_size=t.batch_size,
        grad_accum=t.grad_accum,
        warmup_steps=t.warmup_steps,
        weight_decay=t.weight_decay,
        seed=t.seed,
        save_every=t.save_every,
        keep_checkpoints=t.keep_checkpoints,
        grouping=cfg.data.grouping,
        resume=resume,
        on_step=on_step,
    )

    exports: dict[str, Any] = {}
    if cfg.export.adapter:
        exports["adapter"] = str(export.save_adapter(model, out / "adapter"))
    if cfg.export.merged or cfg.export.gguf:
        merged = export.save_merged(model, loaded.tokenizer, out / "merged")
        exports["merged"] = str(out / "merged")
        source_gguf = loaded.source.path if loaded.source.kind == "gguf" else None
        for kind in cfg.export.gguf:
            path = export.export_gguf(
                merged, loaded.tokenizer, out / f"model-{kind}.gguf", kind=kind, source_gguf=source_gguf
            )
            exports[f"gguf_{kind}"] = {
                "path": str(path),
                "size_mb": round(path.stat().st_size / 1e6, 1),
                "check": export.check_gguf(path),
            }
            log.info("export: %s llama.cpp check %s", path.name, exports[f"gguf_{kind}"]["check"])

    seconds_per_record = result.seconds / result.records_seen if result.records_seen else None
    report = {
        "model": asdict(loaded.source),
        "device": loaded.device,
        "dtype": loaded.dtype,
        "load_seconds": round(loaded.load_seconds, 2),
        "data": {
            "train_file": str(train_file),
            "val_file": str(val_file) if val_file else None,
            "train_read": len(train_raw.records),
            "train_skipped": train_raw.skipped,
            "train_skip_reasons": train_raw.reasons,
            "too_long": too_long,
            "val_read": len(val_raw.records),
            "val_skipped": val_raw.skipped,
        },
        "lora": {"trainable_params": trainable, "total_params": total},
        "training": {**asdict(result), "tokens_per_s": round(result.tokens_per_s, 2)},
        "cost": {
            "tokens_per_s": round(result.tokens_per_s, 2),
            "seconds_per_step": round(result.seconds / max(1, result.steps - (result.resumed_from or 0)), 3),
            "seconds_per_1000_records_per_epoch": round(1000 * seconds_per_record, 1) if seconds_per_record else None,
            "peak_rss_mb": round(_peak_rss_mb(), 1),
            "peak_gpu_mb": _peak_gpu_mb(loaded.device),
            "wall_seconds": round(time.perf_counter() - t_start, 1),
        },
        "exports": exports,
    }
    (out / "sft-report.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "MODEL_CARD.md").write_text(_card(cfg, report))
    log.info("report: %s", out / "sft-report.json")
    return report


def _card(cfg: SftConfig, r: dict[str, Any]) -> str:
    """MODEL_CARD.md: what was trained on what, the losses, and the measured cost."""
    c, tr, d, m = r["cost"], r["training"], r["data"], r["model"]
    val = ", ".join(f"{v:.4f}" for v in tr["val_loss"]) or "n/a"
    sha = f", sha256 {m['sha256']}" if m["sha256"] else ""
    files = [f"- {k}: `{v['path'] if isinstance(v, dict) else v}`" for k, v in r["exports"].items()]
    cost = [r["load_seconds"], c["seconds_per_step"], c["tokens_per_s"]]
    cost += [c["seconds_per_1000_records_per_epoch"], c["peak_rss_mb"], c["peak_gpu_mb"]]
    lines = [
        f"# LoRA SFT of {cfg.model.name}",
        "",
        f"- Base: `{m['path']}` ({m['kind']}{sha})",
        f"- Data: `{d['train_file']}`: {d['train_read']} records read, {d['train_skipped']} malformed skipped, "
        f"{d['too_long']} too long",
        f"- LoRA r={cfg.lora.r}, alpha={cfg.lora.alpha}, dropout={cfg.lora.dropout} on "
        f"{', '.join(cfg.lora.target_modules)} ({r['lora']['trainable_params']:,} trainable parameters)",
        f"- Training: {tr['steps']} optimizer steps, batch {cfg.train.batch_size} x accumulation "
        f"{cfg.train.grad_accum}, lr {cfg.train.lr}, seed {cfg.train.seed}, on {r['device']} ({r['dtype']})",
        f"- Loss: first step {tr['train_loss'][0]:.4f}, last step {tr['train_loss'][-1]:.4f}; "
        f"val loss per epoch: {val}",
        "",
        "## Cost",
        "| load s | s/step | tokens/s | s per 1,000 records (one epoch) | peak RSS MB | peak GPU MB |",
        "|---|---|---|---|---|---|",
        "| " + " | ".join(str(x) for x in cost) + " |",
        "",
        "## Files",
        *files,
        "",
        "Loss on the assistant answers only. Intended use: a private, local CTI assistant; check answers against",
        "the cited knowledge; not a source of truth.",
        "",
    ]
    return "\n".join(lines)
