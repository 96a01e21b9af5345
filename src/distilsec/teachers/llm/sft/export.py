"""Write what a run produced: the LoRA adapter, the merged HF model, and GGUF files llama.cpp loads.

No llama.cpp converter (``convert_hf_to_gguf.py``) is installed here, so the GGUF is written with the
``gguf`` package's ``GGUFWriter`` for the two architectures the shipped models use (Qwen2, Llama): tensor
names from ``gguf``'s own name map, f16 weights (norms and biases f32), or Q8_0 / Q4_0 through ``gguf.quants``. The
tokenizer metadata is copied from the base GGUF when the run started from one (exactly what llama.cpp read
before), else built from the HF tokenizer's byte-level BPE (vocab + merges, ``gpt2`` model).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from distilsec.errors import ConfigError

__all__ = ["save_adapter", "save_merged", "export_gguf", "check_gguf", "GGUF_ARCHES", "GGUF_KINDS"]

log = logging.getLogger(__name__)

#: HF ``model_type`` → gguf architecture name and whether q/k need llama.cpp's rotary permutation
GGUF_ARCHES: dict[str, tuple[str, bool]] = {"qwen2": ("qwen2", False), "llama": ("llama", True)}
#: export kind → ggml type of the 2-D weights (rows not a multiple of 32 stay f16; norms and biases f32)
GGUF_KINDS: dict[str, str] = {"f16": "F16", "q8_0": "Q8_0", "q4_0": "Q4_0"}


def save_adapter(peft_model: Any, out: Path) -> Path:
    """``adapter_model.safetensors`` + ``adapter_config.json`` (peft's format: loadable with ``PeftModel``)."""
    peft_model.save_pretrained(str(out))
    return out


def save_merged(peft_model: Any, tokenizer: Any, out: Path) -> Any:
    """Merge the LoRA weights into the base and save a HF folder (safetensors + tokenizer); returns the model."""
    import torch

    merged = peft_model.merge_and_unload()
    merged.config.use_cache = True
    if getattr(merged, "hf_quantizer", None) is not None:
        # loaded from a GGUF: transformers dequantized it on load, so the weights are plain tensors now, but the
        # attached "gguf quantizer" would refuse save_pretrained (not serializable); drop it
        merged.hf_quantizer = None
        merged.is_quantized = False
        if getattr(merged.config, "quantization_config", None) is not None:
            del merged.config.quantization_config
    merged = merged.to(dtype=torch.float32) if merged.dtype != torch.float32 and merged.device.type == "cpu" else merged
    merged.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return merged


def _permute(w: Any, n_head: int) -> Any:
    """HF's rotary layout → llama.cpp's (as its converter does for Llama q/k weights)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _copy_tokenizer_fields(writer: Any, source_gguf: str) -> None:
    import gguf

    reader = gguf.GGUFReader(source_gguf)
    for key, f in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        vtype = f.types[0]
        sub = f.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, f.contents(), vtype, sub_type=sub)


def _hf_tokenizer_fields(writer: Any, tokenizer: Any, vocab_size: int, arch: str) -> None:
    """tokens, types, merges and special ids of a byte-level BPE fast tokenizer (what llama.cpp calls gpt2)."""
    import gguf

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    model = spec.get("model", {})
    if model.get("type") != "BPE":
        raise ConfigError(
            f"export.gguf: tokenizer model {model.get('type')!r} is not byte-level BPE; "
            "set export.gguf to [] and use the merged folder"
        )
    vocab: dict[str, int] = dict(model["vocab"])
    special = {t["content"]: t["id"] for t in spec.get("added_tokens", []) if t.get("special")}
    for t in spec.get("added_tokens", []):
        vocab[t["content"]] = t["id"]
    by_id = {i: tok for tok, i in vocab.items()}
    tokens, types = [], []
    for i in range(vocab_size):
        tok = by_id.get(i)
        tokens.append(tok if tok is not None else f"[PAD{i}]")
        types.append(
            gguf.TokenType.UNUSED
            if tok is None
            else gguf.TokenType.CONTROL
            if tok in special
            else gguf.TokenType.NORMAL
        )
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2" if arch == "qwen2" else "default")
    writer.add_token_list(tokens)
    writer.add_token_types([int(t) for t in types])
    writer.add_token_merges(merges)
    for name, add in (
        ("eos", writer.add_eos_token_id),
        ("bos", writer.add_bos_token_id),
        ("pad", writer.add_pad_token_id),
    ):
        tid = getattr(tokenizer, f"{name}_token_id", None)
        if tid is not None:
            add(int(tid))
    writer.add_add_bos_token(False)
    if getattr(tokenizer, "chat_template", None):
        writer.add_chat_template(tokenizer.chat_template)


def export_gguf(
    model: Any,
    tokenizer: Any,
    out: Path,
    *,
    kind: str = "f16",
    source_gguf: str | None = None,
    name: str = "distilsec-sft",
) -> Path:
    """Write the (merged, plain HF) ``model`` as one GGUF file of ``kind`` f16 or q8_0."""
    import gguf
    import numpy as np

    cfg = model.config
    if cfg.model_type not in GGUF_ARCHES:
        raise ConfigError(
            f"export.gguf: architecture {cfg.model_type!r} not supported (only {sorted(GGUF_ARCHES)}); drop export.gguf"
        )
    arch, permute = GGUF_ARCHES[cfg.model_type]
    n_layers, n_head = cfg.num_hidden_layers, cfg.num_attention_heads
    n_kv = getattr(cfg, "num_key_value_heads", None) or n_head
    rope = getattr(cfg, "rope_parameters", None) or {}
    theta = float(rope.get("rope_theta", getattr(cfg, "rope_theta", 10000.0)))
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], n_layers)
    if kind not in GGUF_KINDS:
        raise ConfigError(f"export.gguf: unknown kind {kind!r}; one of {sorted(GGUF_KINDS)}")
    qtype = getattr(gguf.GGMLQuantizationType, GGUF_KINDS[kind])
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out), arch)
    writer.add_name(name)
    writer.add_block_count(n_layers)
    writer.add_context_length(int(cfg.max_position_embeddings))
    writer.add_embedding_length(int(cfg.hidden_size))
    writer.add_feed_forward_length(int(cfg.intermediate_size))
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_freq_base(theta)
    writer.add_layer_norm_rms_eps(float(cfg.rms_norm_eps))
    writer.add_file_type(getattr(gguf.LlamaFileType, f"MOSTLY_{GGUF_KINDS[kind]}"))
    if arch == "llama":
        writer.add_rope_dimension_count(cfg.hidden_size // n_head)
        writer.add_vocab_size(int(cfg.vocab_size))
    if source_gguf:
        _copy_tokenizer_fields(writer, source_gguf)
    else:
        _hf_tokenizer_fields(writer, tokenizer, int(cfg.vocab_size), arch)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    tied = bool(getattr(cfg, "tie_word_embeddings", False))
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue  # llama.cpp uses token_embd for a tied head
        new = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise ConfigError(f"export.gguf: no GGUF name for tensor {hf_name}")
        data = tensor.detach().float().cpu().numpy()
        if permute and hf_name.endswith("q_proj.weight"):
            data = _permute(data, n_head)
        elif permute and hf_name.endswith("k_proj.weight"):
            data = _permute(data, n_kv)
        if data.ndim < 2 or new.endswith("_norm.weight"):
            writer.add_tensor(new, data.astype(np.float32))
        elif qtype != gguf.GGMLQuantizationType.F16 and data.shape[-1] % 32 == 0:
            # the (often tied) embedding/head is the tensor most hurt by 4 bits: it stays at 8 in a q4_0 file
            q = gguf.GGMLQuantizationType.Q8_0 if new in ("token_embd.weight", "output.weight") else qtype
            writer.add_tensor(new, gguf.quants.quantize(data, q), raw_dtype=q)
        else:
            writer.add_tensor(new, data.astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    log.info("wrote %s (%s, %.1f MB)", out, kind, out.stat().st_size / 1e6)
    return out


def check_gguf(path: Path, prompt: str = "Hello", max_tokens: int = 8) -> dict[str, Any]:
    """Load the GGUF in llama-cpp-python and generate a few tokens: the file is what llama.cpp expects."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return {"loaded": False, "reason": "llama_cpp not installed"}
    try:
        llm = Llama(model_path=str(path), n_ctx=256, n_threads=2, verbose=False, seed=0)
        out = llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0)
        text = out["choices"][0]["text"]
        llm.close() if hasattr(llm, "close") else None
        return {"loaded": True, "text": text, "completion_tokens": out["usage"]["completion_tokens"]}
    except Exception as exc:  # noqa: BLE001 - reported in sft-report.json, not fatal to a finished run
        return {"loaded": False, "reason": " ".join(str(exc).split())[:300]}
