"""A plain torch training loop for LoRA SFT, with checkpoints a killed run resumes from bit for bit.

A checkpoint is a folder ``checkpoints/step-NNNNNN/`` holding the adapter (safetensors), the optimizer state
(``torch.save`` of tensors and numbers, loaded with ``weights_only=True``), the RNG states (tensors, same),
and ``trainer_state.json`` (step, epoch, batch position, scheduler state, losses). It is written to a
temporary folder and renamed, so a kill mid-write leaves the previous checkpoint intact. Batch order is a
function of (seed, epoch), so the resumed run skips exactly the batches already trained on.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilsec._internal.console import progress
from distilsec.teachers.llm.sft.data import Encoded, bucket_batches, collate

__all__ = ["TrainResult", "train", "latest_checkpoint"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    steps: int
    epochs_done: int
    train_loss: list[float] = field(default_factory=list)  # mean loss of each optimizer step
    val_loss: list[float] = field(default_factory=list)  # one per finished epoch
    tokens: int = 0  # non-padding tokens trained on in this process
    seconds: float = 0.0  # wall time of the steps in this process
    resumed_from: int | None = None
    records_seen: int = 0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    done = sorted(p for p in ckpt_dir.glob("step-*") if (p / "trainer_state.json").is_file())
    return done[-1] if done else None


def _rng_state(device: str) -> dict[str, Any]:
    import torch

    state = {"cpu": torch.get_rng_state()}
    if device == "cuda":
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict[str, Any], device: str) -> None:
    import torch

    torch.set_rng_state(state["cpu"])
    if device == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"])


def _save_checkpoint(
    ckpt_dir: Path, model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any], device: str, keep: int
) -> Path:
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    final = ckpt_dir / f"step-{state['step']:06d}"
    tmp = ckpt_dir / f".tmp-{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    adapter = {k: v.detach().contiguous().cpu() for k, v in get_peft_model_state_dict(model).items()}
    save_file(adapter, str(tmp / "adapter_model.safetensors"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(_rng_state(device), tmp / "rng.pt")
    (tmp / "trainer_state.json").write_text(json.dumps({**state, "scheduler": scheduler.state_dict()}, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in sorted(ckpt_dir.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _load_checkpoint(path: Path, model: Any, optimizer: Any, scheduler: Any, device: str) -> dict[str, Any]:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(path / "adapter_model.safetensors"), device=device))
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location=device, weights_only=True))
    state = json.loads((path / "trainer_state.json").read_text())
    scheduler.load_state_dict(state.pop("scheduler"))
    _set_rng_state(torch.load(path / "rng.pt", weights_only=True), device)
    return state


@dataclass
class _Plan:
    batches_per_epoch: int
    steps_per_epoch: int
    total_steps: int
    epochs: int


def _plan(n_batches: int, grad_accum: int, epochs: int, max_steps: int | None) -> _Plan:
    per_epoch = max(1, math.ceil(n_batches / grad_accum))
    total = max_steps if max_steps is not None else per_epoch * epochs
    return _Plan(n_batches, per_epoch, total, max(epochs, math.ceil(total / per_epoch)))


def evaluate(model: Any, data: list[Encoded], *, batch_size: int, pad_id: int, device: str) -> float:
    """Mean loss per answer token over ``data`` (no dropout, no gradients)."""
    import torch

    if not data:
        return float("nan")
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(data), batch_size):
            batch = {k: v.to(device) for k, v in collate(data[s : s + batch_size], pad_id).items()}
            n = int((batch["labels"][:, 1:] != -100).sum())
            if n:
                total += float(model(**batch).loss) * n
                count += n
    model.train(was_training)
    return total / count if count else float("nan")


def train(
    model: Any,
    train_data: list[Encoded],
    val_data: list[Encoded],
    *,
    out_dir: Path,
    pad_id: int,
    device: str,
    lr: float,
    epochs: int,
    max_steps: int | None,
    batch_size: int,
    grad_accum: int,
    warmup_steps: int,
    weight_decay: float,
    seed: int,
    save_every: int,
    keep_checkpoints: int,
    grouping: str = "bucket",
    resume: bool = True,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train the LoRA parameters of ``model``; resume from the newest checkpoint in ``out_dir`` when asked.

    ``on_step(step, loss)`` is called after each optimizer step (after any checkpoint of that step): tests use
    it to kill a run part-way.
    """
    import torch

    torch.manual_seed(seed)
    if not train_data:
        from distilsec.errors import DataError

        raise DataError("no training records left to train on")
    lengths = [len(e.input_ids) for e in train_data]
    n_batches = len(bucket_batches(lengths, batch_size, seed=seed, grouping=grouping))
    plan = _plan(n_batches, grad_accum, epochs, max_steps)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)

    def lr_factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        return max(0.0, (plan.total_steps - step) / max(1, plan.total_steps - warmup_steps))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    ckpt_dir = out_dir / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    result = TrainResult(steps=0, epochs_done=0)
    epoch, batch_pos = 0, 0
    last = latest_checkpoint(ckpt_dir) if resume else None
    if last is not None:
        st = _load_checkpoint(last, model, optimizer, scheduler, device)
        result.steps, epoch, batch_pos = st["step"], st["epoch"], st["batch_pos"]
        result.train_loss, result.val_loss = st["train_loss"], st["val_loss"]
        result.epochs_done, result.resumed_from = st["epochs_done"], st["step"]
        log.info("resumed from %s (step %d of %d)", last, result.steps, plan.total_steps)
    elif not resume:
        for old in ckpt_dir.glob("step-*"):
            shutil.rmtree(old)
    log.info(
        "training: %d records, %d batches/epoch of %d, accumulation %d, %d optimizer steps",
        len(train_data),
        plan.batches_per_epoch,
        batch_size,
        grad_accum,
        plan.total_steps,
    )

    def state() -> dict[str, Any]:
        return {
            "step": result.steps,
            "epoch": epoch,
            "batch_pos": batch_pos,
            "epochs_done": result.epochs_done,
            "train_loss": result.train_loss,
            "val_loss": result.val_loss,
            "total_steps": plan.total_steps,
        }

    model.train()
    with progress("bar") as bar:
        task = bar.add_task("sft", total=plan.total_steps, completed=result.steps, rate="")
        while result.steps < plan.total_steps and epoch < plan.epochs:
            batches = bucket_batches(lengths, batch_size, seed=seed + epoch, grouping=grouping)
            while batch_pos < len(batches) and result.steps < plan.total_steps:
                group = batches[batch_pos : batch_pos + grad_accum]
                t0 = time.perf_counter()
                step_loss = 0.0
                for idx in group:
                    batch = {k: v.to(device) for k, v in collate([train_data[i] for i in idx], pad_id).items()}
                    loss = model(**batch).loss / len(group)
                    loss.backward()
                    step_loss += float(loss.detach())
                    result.tokens += int(batch["attention_mask"].sum())
                    result.records_seen += len(idx)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                batch_pos += len(group)
                result.steps += 1
                result.seconds += time.perf_counter() - t0
                result.train_loss.append(step_loss)
                bar.update(task, advance=1, rate=f"loss {step_loss:.3f}  {result.tokens_per_s:,.0f} tok/s")
                epoch_done = batch_pos >= len(batches)
                if epoch_done:
                    val = evaluate(model, val_data, batch_size=batch_size, pad_id=pad_id, device=device)
                    result.val_loss.append(val)
                    result.epochs_done += 1
                    log.info("epoch %d done: train loss %.4f, val loss %.4f", epoch + 1, step_loss, val)
                    epoch, batch_pos = epoch + 1, 0
                if result.steps % save_every == 0 or result.steps >= plan.total_steps:
                    _save_checkpoint(ckpt_dir, model, optimizer, scheduler, state(), device, keep_checkpoints)
                if on_step is not None:
                    on_step(result.steps, step_loss)
                if epoch_done:
                    break  # the next epoch has its own batch order
    if val_data and batch_pos:  # stopped mid-epoch: still report a val loss
        result.val_loss.append(evaluate(model, val_data, batch_size=batch_size, pad_id=pad_id, device=device))
    log.info("trained %d steps: %.1f tokens/s", result.steps, result.tokens_per_s)
    return result
