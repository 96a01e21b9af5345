"""Export of a tiny fine-tuned Qwen2: adapter + merged folder, and GGUF files gguf and llama.cpp read."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from distilsec.errors import ConfigError
from distilsec.teachers.llm.sft import export
from distilsec.teachers.llm.sft.model import add_lora, load_base, resolve_source


@pytest.fixture(scope="module")
def merged(tiny_model, tmp_path_factory):
    import torch

    loaded = load_base(str(tiny_model), "cpu")
    model = add_lora(
        loaded.model, r=4, alpha=8, dropout=0.0, target_modules=["q_proj", "k_proj"], gradient_checkpointing=False
    )
    with torch.no_grad():  # a non-zero adapter, so that merging changes the weights
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.1)
    out = tmp_path_factory.mktemp("export")
    export.save_adapter(model, out / "adapter")
    m = export.save_merged(model, loaded.tokenizer, out / "merged")
    return m, loaded.tokenizer, out


def test_adapter_and_merged_folder_are_safetensors_and_reload(merged):
    from transformers import AutoModelForCausalLM

    m, _, out = merged
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert (out / "merged" / "model.safetensors").is_file() and (out / "merged" / "tokenizer.json").is_file()
    again = AutoModelForCausalLM.from_pretrained(out / "merged")
    w = "model.layers.0.self_attn.q_proj.weight"
    assert np.allclose(again.state_dict()[w].numpy(), m.state_dict()[w].numpy())


@pytest.mark.parametrize(("kind", "atol"), [("f16", 2e-3), ("q8_0", 2e-2), ("q4_0", 0.3)])
def test_gguf_round_trips_through_gguf_reader(merged, kind, atol):
    import gguf

    m, tok, out = merged
    path = export.export_gguf(m, tok, out / f"model-{kind}.gguf", kind=kind)
    reader = gguf.GGUFReader(path)
    assert reader.fields["general.architecture"].contents() == "qwen2"
    assert reader.fields["qwen2.block_count"].contents() == 2
    tensors = {t.name: t for t in reader.tensors}
    assert "output.weight" not in tensors  # tied head
    q = tensors["blk.0.attn_q.weight"]
    want = m.state_dict()["model.layers.0.self_attn.q_proj.weight"].numpy()
    got = gguf.dequantize(q.data, q.tensor_type).reshape(want.shape)
    assert np.allclose(got, want, atol=atol)
    assert len(reader.fields["tokenizer.ggml.tokens"].contents()) == m.config.vocab_size


def test_gguf_loads_and_generates_in_llama_cpp(merged):
    pytest.importorskip("llama_cpp")
    m, tok, out = merged
    path = export.export_gguf(m, tok, out / "model-check.gguf", kind="f16")
    check = export.check_gguf(path, prompt="Which tactic", max_tokens=4)
    assert check["loaded"], check
    assert check["completion_tokens"] >= 1


def test_unsupported_architecture_is_a_config_error(merged):
    m, tok, out = merged
    m.config.model_type = "gpt_neox"
    try:
        with pytest.raises(ConfigError, match="architecture 'gpt_neox' not supported"):
            export.export_gguf(m, tok, out / "x.gguf")
    finally:
        m.config.model_type = "qwen2"


def test_bad_model_names_are_one_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not a shipped alias"):
        resolve_source(str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="no config.json"):
        resolve_source(str(tmp_path))
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ConfigError, match="broken.gguf: GGUF transformers cannot dequantize"):
        load_base(str(bad), "cpu")


def test_llama_cpp_reads_the_same_model_as_transformers(merged):
    """Same tokens and (f16-rounded) logits: names, layout, rotary and tokenizer are what llama.cpp expects."""
    import torch

    llama_cpp = pytest.importorskip("llama_cpp")
    m, tok, out = merged
    path = export.export_gguf(m, tok, out / "model-logits.gguf", kind="f16")
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=128, logits_all=True, verbose=False)
    text = "Which tactic is T1548? Privilege"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert llm.tokenize(text.encode(), add_bos=False, special=False) == ids
    llm.eval(ids)
    got = np.array(llm.scores[: len(ids)])[:, : m.config.vocab_size]
    with torch.no_grad():
        want = m.eval()(torch.tensor([ids])).logits[0].numpy()
    assert np.abs(got - want).max() < 0.05 * max(1.0, np.abs(want).max())


def test_a_gguf_base_trains_merges_and_exports_with_its_own_tokenizer(merged, tmp_path):
    """The GGUF path end to end: transformers dequantizes our GGUF, LoRA wraps it, the merged model saves
    (the GGUF 'quantizer' transformers attaches would refuse it), and the new GGUF copies the base's tokenizer."""
    import gguf

    m, tok, out = merged
    base = export.export_gguf(m, tok, tmp_path / "base.gguf", kind="f16")
    loaded = load_base(str(base), "cpu")
    assert loaded.source.kind == "gguf" and loaded.source.sha256
    assert loaded.tokenizer.chat_template  # carried in the GGUF
    model = add_lora(loaded.model, r=4, alpha=8, dropout=0.0, target_modules=["q_proj"], gradient_checkpointing=False)
    again = export.save_merged(model, loaded.tokenizer, tmp_path / "merged")
    assert (tmp_path / "merged" / "model.safetensors").is_file()
    path = export.export_gguf(again, loaded.tokenizer, tmp_path / "out.gguf", kind="q8_0", source_gguf=str(base))
    fields = gguf.GGUFReader(path).fields
    assert (
        fields["tokenizer.ggml.tokens"].contents() == gguf.GGUFReader(base).fields["tokenizer.ggml.tokens"].contents()
    )
    if importlib.util.find_spec("llama_cpp"):
        assert export.check_gguf(path)["loaded"]
