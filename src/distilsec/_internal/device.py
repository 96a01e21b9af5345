"""Device choice: CUDA, Apple MPS or CPU, picked automatically unless the config says otherwise."""

from __future__ import annotations

import torch

__all__ = ["resolve_device"]


def resolve_device(device: str = "auto") -> torch.device:
    """Return the torch device to use.

    ``"auto"`` prefers CUDA, then Apple MPS, then the CPU; any explicit torch device string
    (``"cpu"``, ``"cuda:1"``, ``"mps"``) is honoured as given so a user can pin a run.
    """
    if device in ("", "auto", None):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)
