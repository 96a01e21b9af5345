"""LoRA supervised fine-tuning of a small causal LM (HF folder/name or GGUF) on chat-format JSONL.

Modules, in the order a run uses them: :mod:`.config` (the validated YAML), :mod:`.data` (chat template,
loss on answers only, length buckets), :mod:`.model` (load, device/dtype, LoRA), :mod:`.trainer` (a plain
torch loop with resumable checkpoints) and :mod:`.export` (adapter, merged model, GGUF). Heavy libraries
(torch, transformers, peft, gguf) are imported inside functions so that importing this package is cheap.
"""
