"""Exchange with the labelling tools SOC teams use: Label Studio and Argilla, both ways.

Export: the review queue (or every item) as Label Studio tasks with the teacher and the student as
``predictions`` (``model_version``, ``score``), or as Argilla records with the teacher's ``suggestion``
(``score``, ``agent``). Import: the labelled results back, each decision appended to the run's label ledger
with who made it and when (``source`` ``labelstudio`` / ``argilla``; a second import of the same
annotation is skipped). Rows in = decisions imported + rows skipped, by reason.
"""

from __future__ import annotations

from pathlib import Path

from distilsec.data.exchange.common import ImportResult, sniff_format
from distilsec.data.label_ledger import LabelLedger
from distilsec.data.review_items import ReviewCache
from distilsec.errors import ConfigError

__all__ = ["FORMATS", "ImportResult", "export_queue", "import_file", "sniff_format"]

FORMATS = ("label-studio", "argilla")


def export_queue(cache: ReviewCache, fmt: str, out: str | Path, *, items: str = "queue") -> list[Path]:
    """Write the cache's items (``queue``, ``all`` or ``decided``) in ``fmt`` into the folder ``out``."""
    if fmt == "label-studio":
        from distilsec.data.exchange.label_studio import write_label_studio

        return write_label_studio(cache, Path(out), items=items)
    if fmt == "argilla":
        from distilsec.data.exchange.argilla import write_argilla

        return write_argilla(cache, Path(out), items=items)
    raise ConfigError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")


def import_file(
    path: str | Path, cache: ReviewCache, ledger: LabelLedger, *, fmt: str = "auto", who: str = "import"
) -> ImportResult:
    """Append the decisions of a Label Studio export or an Argilla dataset file to ``ledger``."""
    p = Path(path)
    kind = sniff_format(p) if fmt == "auto" else fmt
    if kind == "label-studio":
        from distilsec.data.exchange.label_studio import import_label_studio

        return import_label_studio(p, cache, ledger, who=who)
    if kind == "argilla":
        from distilsec.data.exchange.argilla import import_argilla

        return import_argilla(p, cache, ledger, who=who)
    raise ConfigError(f"--format {fmt!r}: use one of auto, {', '.join(FORMATS)}")
