"""Device, thread and seed set-up: the one place a run decides where and how reproducibly it computes.

torch is imported inside the functions, not at module level, so that code which only needs
:func:`set_threads` or :func:`seed_everything` (an ONNX scoring process) does not pay torch's start-up.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["resolve_device", "set_threads", "limit_threads", "seed_everything"]


def resolve_device(device: str = "auto") -> torch.device:
    """Return the torch device to use.

    ``"auto"`` prefers CUDA, then Apple MPS, then the CPU; any explicit torch device string
    (``"cpu"``, ``"cuda:1"``, ``"mps"``) is honoured as given so a user can pin a run.
    """
    import torch

    if device in ("", "auto", None):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def set_threads(threads: int | None) -> None:
    """Use ``threads`` intra-op threads in torch for the rest of the process (``run.threads``).

    ``0``/``None`` keeps torch's default (one per core) and does not import torch. BLAS pools (numpy,
    sklearn) are left alone here, as ``distilsec run`` always has; :func:`limit_threads` bounds both.
    """
    if threads:
        import torch

        torch.set_num_threads(int(threads))


@contextmanager
def limit_threads(threads: int, *, blas: bool = True) -> Iterator[None]:
    """Run the block on ``threads`` torch threads (and, with ``blas``, BLAS/OpenMP threads), then restore them.

    A latency or throughput figure measured on one thread must not borrow the other cores, whichever
    library (torch, numpy's BLAS, sklearn's OpenMP) does the arithmetic.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        if blas:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(int(threads)):
                yield
        else:
            yield
    finally:
        torch.set_num_threads(previous)


def seed_everything(seed: int, *, torch_seed: bool = True) -> None:
    """Seed Python's ``random``, numpy's global generator and (with ``torch_seed``) torch, CPU and CUDA.

    distilsec's own code draws from explicit generators (``np.random.default_rng(seed)``,
    ``random.Random(seed)``); this covers the libraries that use the global ones (torch weight
    initialisation and dropout, sklearn estimators left without a ``random_state``).
    """
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    if torch_seed:
        import torch

        torch.manual_seed(seed)
