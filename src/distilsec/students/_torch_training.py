"""One training loop for every torch student: hard labels, optionally mixed with soft targets.

Loss (Hinton et al., 2015): ``alpha * T^2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE(y)``.
The T^2 factor keeps the soft-target gradients on the same scale as the hard ones when T changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from rich.progress import Progress

from distilsec._internal.console import progress
from distilsec.errors import DataError
from distilsec.students._torch_predict import predict_batches  # re-exported: its home before the split
from distilsec.students.base import SoftTargets

__all__ = ["train_torch_classifier", "distillation_loss", "progress_bar", "predict_batches"]

log = logging.getLogger("distilsec.train")


def progress_bar(transient: bool = True) -> Progress:
    """A rich progress bar with rate and ETA (silent when the output is not a terminal)."""
    return progress("bar", transient=transient)


def distillation_loss(
    logits: torch.Tensor,
    y: torch.Tensor,
    soft: torch.Tensor | None,
    temperature: float,
    alpha: float | torch.Tensor,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-batch loss: CE on hard labels, plus alpha*T^2*KL to the softened teacher when given.

    ``alpha`` is one weight or one per row of the batch (transfer-set rows learn from the teacher only).
    """
    ce = F.cross_entropy(logits, y, reduction="none")
    if soft is None:
        loss = ce
    else:
        log_p_student = F.log_softmax(logits / temperature, dim=1)
        kl = (soft * (torch.log(soft.clamp_min(1e-12)) - log_p_student)).sum(dim=1)
        loss = alpha * temperature**2 * kl + (1.0 - alpha) * ce
    if weight is not None:
        return (loss * weight).sum() / weight.sum().clamp_min(1e-12)
    return loss.mean()


def train_torch_classifier(
    module: torch.nn.Module,
    make_batch: Callable[[np.ndarray], Any],
    y: np.ndarray,
    *,
    soft_targets: SoftTargets | None,
    sample_weight: np.ndarray | None,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    random_state: int,
    device: torch.device,
    desc: str,
) -> list[float]:
    """Train ``module`` (logits = module(batch)) with AdamW; returns the mean loss of each epoch.

    ``make_batch(indices)`` turns row indices into the module's input on ``device``; keeping
    featurisation per batch bounds memory for large training sets.
    """
    n = len(y)
    if n == 0:
        raise DataError("cannot fit on an empty training set: no labelled rows reached the model")
    gen = np.random.default_rng(random_state)
    torch.manual_seed(random_state)
    module.to(device).train()
    opt = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = (n + batch_size - 1) // batch_size
    total_steps = max(1, epochs * steps_per_epoch)
    # OneCycleLR divides by (pct_start * total_steps - 1), which is exactly 0 for 10 steps at 0.1
    pct_start = 0.1 if total_steps != 10 else 0.15
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total_steps, pct_start=pct_start)
    y_t = torch.as_tensor(y, dtype=torch.long)
    soft_t = torch.as_tensor(soft_targets.softened()) if soft_targets is not None else None
    alpha_t = torch.as_tensor(soft_targets.row_alpha()) if soft_targets is not None else None
    w_t = torch.as_tensor(sample_weight, dtype=torch.float32) if sample_weight is not None else None
    history: list[float] = []
    with progress_bar() as bar:
        task = bar.add_task(desc, total=epochs * steps_per_epoch, rate="")
        for epoch in range(epochs):
            order = gen.permutation(n)
            total = 0.0
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                logits = module(make_batch(idx))
                loss = distillation_loss(
                    logits,
                    y_t[idx].to(device),
                    soft_t[idx].to(device) if soft_t is not None else None,
                    soft_targets.temperature if soft_targets is not None else 1.0,
                    alpha_t[idx].to(device) if alpha_t is not None else 0.0,
                    w_t[idx].to(device) if w_t is not None else None,
                )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(module.parameters(), 5.0)
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
                bar.update(task, advance=1, rate=f"loss {float(loss.detach()):.4f}")
            history.append(total / n)
            log.info("%s epoch %d/%d loss %.4f", desc, epoch + 1, epochs, history[-1])
    module.eval()
    return history
