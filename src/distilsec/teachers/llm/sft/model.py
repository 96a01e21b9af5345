"""Load the base causal LM (HF folder/name or GGUF), pick device and dtype, and wrap it in LoRA.

A GGUF is dequantized by transformers (``gguf_file=``); one that it cannot read (an architecture or a
quantisation it does not know) is one :class:`ConfigError` naming the file and transformers' reason, rather
than a traceback after minutes of loading.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distilsec.errors import ConfigError

__all__ = ["LoadedModel", "ModelSource", "resolve_source", "choose_device", "load_base", "add_lora", "CHATML_TEMPLATE"]

log = logging.getLogger(__name__)

#: the ChatML template (Qwen's) used when a tokenizer carries none
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass
class ModelSource:
    """Where the base model comes from: ``kind`` is gguf, folder or hub; ``sha256`` only for a GGUF."""

    kind: str
    path: str
    sha256: str | None = None


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    source: ModelSource
    device: str
    dtype: str
    load_seconds: float


def resolve_source(name: str) -> ModelSource:
    """A shipped alias or ``.gguf`` path → gguf; an existing folder → folder; anything else a hub name."""
    from distilsec.teachers.llm.gguf_assemble import PACKAGED_GGUF, resolve_gguf

    if name in PACKAGED_GGUF or name.endswith(".gguf"):
        try:
            path, sha = resolve_gguf(name)
        except Exception as exc:  # noqa: BLE001 - a missing file/alias becomes one config error line
            raise ConfigError(f"model.name {name!r}: {exc}") from None
        return ModelSource("gguf", str(path), sha)
    p = Path(name).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise ConfigError(f"model.name {name!r}: folder has no config.json (not a HF model folder)")
        return ModelSource("folder", str(p))
    if p.exists() or "/" not in name or name.startswith((".", "/", "~")):
        raise ConfigError(f"model.name {name!r}: not a shipped alias, a .gguf file, a HF folder or a hub name")
    return ModelSource("hub", name)


def choose_device(device: str, dtype: str) -> tuple[str, Any]:
    """``(device, torch dtype)``: CUDA → bf16 (fp16 without bf16 support), MPS and CPU → fp32."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("model.device: cuda asked for, but torch sees no CUDA device")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("model.device: mps asked for, but torch sees no Apple MPS device")
    if dtype == "auto":
        if device == "cuda":
            return device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return device, torch.float32
    return device, getattr(torch, dtype)


def load_base(name: str, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Load model and tokenizer (GGUF dequantized), on the chosen device; the tokenizer has a chat template."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = resolve_source(name)
    dev, torch_dtype = choose_device(device, dtype)
    kwargs: dict[str, Any] = {}
    where = source.path
    if source.kind == "gguf":
        where, kwargs = str(Path(source.path).parent), {"gguf_file": Path(source.path).name}
    t0 = time.perf_counter()
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(where, dtype=torch_dtype, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any loader failure is one line naming the file and the reason
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        what = "GGUF transformers cannot dequantize" if source.kind == "gguf" else "model transformers cannot load"
        raise ConfigError(f"{source.path}: {what}: {reason}") from None
    model.to(dev)
    if not getattr(tokenizer, "chat_template", None):
        log.warning("%s has no chat template; using ChatML", source.path)
        tokenizer.chat_template = CHATML_TEMPLATE
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    seconds = time.perf_counter() - t0
    log.info("loaded %s (%s) on %s as %s in %.1f s", source.path, source.kind, dev, torch_dtype, seconds)
    return LoadedModel(model, tokenizer, source, dev, str(torch_dtype).removeprefix("torch."), seconds)


def add_lora(
    model: Any,
    *,
    r: int,
    alpha: int,
    dropout: float,
    target_modules: list[str],
    gradient_checkpointing: bool,
    seed: int = 0,
) -> Any:
    """Wrap ``model`` in a peft LoRA (only the adapters train); a target module the model lacks is an error.

    The adapters' random initialisation is seeded, so that two runs of one config start from the same weights.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    missing = [t for t in target_modules if t not in names]
    if missing:
        raise ConfigError(f"lora.target_modules: {missing} not in the model (it has e.g. {sorted(names)[:12]})")
    if gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.config.use_cache = False
    cfg = LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(target_modules), task_type="CAUSAL_LM"
    )
    torch.manual_seed(seed)
    return get_peft_model(model, cfg)
