"""Experiments of the semi-supervised issue: Figure 2 (share of teacher labels), budget-aware labelling,
LLM teacher evaluation. Each is one function over a config; the CLI and ``benchmarks/`` call them."""
