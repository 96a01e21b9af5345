"""Data for the semi-supervised experiments: a labelled set, an unlabelled pool, val and test, by group.

The training split of :func:`~distilsec.pipeline.run.prepare_data` (or of the UT1 website categories) is cut
into the analyst-labelled set and the unlabelled pool along whole groups (registrable domains), so no
site is both labelled and "unlabelled", and none of them is in val or test.
"""

from __future__ import annotations

import logging
import lzma
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilsec.data.example import Example
from distilsec.data.paths import resolve_data_dir
from distilsec.data.skips import SkipCounter
from distilsec.data.subsample import cap_by_group, cap_per_group
from distilsec.errors import ConfigError, DataError
from distilsec.pipeline.sweeps.semisup_config import SemisupConfig

__all__ = ["SemisupData", "prepare_semisup_data", "read_ut1_categories", "carve_by_group", "cap_per_group"]

log = logging.getLogger("distilsec.semisup")


@dataclass
class SemisupData:
    labelled: list[Example]
    pool: list[Example]
    val: list[Example]
    test: list[Example]
    classes: list[str]
    preprocess: str
    report: dict[str, Any] = field(default_factory=dict)


def carve_by_group(examples: list[Example], n: int, random_state: int) -> tuple[list[Example], list[Example]]:
    """``(chosen, rest)``: about ``n`` examples in whole groups (label shares kept), and the others.

    :func:`~distilsec.data.subsample.cap_by_group` keeps whole groups *within each label*, so a group
    whose examples carry two labels (two subdomains of one site in two categories) could end up on
    both sides; such groups are pulled whole into ``chosen``, so the two parts never share a group.
    """
    chosen = cap_by_group(examples, n, random_state)
    ids = {ex.id for ex in chosen}
    chosen_groups = {ex.group or ex.id for ex in chosen}
    straddling = [ex for ex in examples if ex.id not in ids and (ex.group or ex.id) in chosen_groups]
    if straddling:
        n_groups = len({ex.group or ex.id for ex in straddling})
        log.info("carve: %d examples of %d two-label groups joined their group", len(straddling), n_groups)
        chosen = chosen + straddling
        ids |= {ex.id for ex in straddling}
    return chosen, [ex for ex in examples if ex.id not in ids]


def read_ut1_categories(
    path: str | Path, categories: list[str], *, skips: SkipCounter | None = None
) -> Iterator[Example]:
    """UT1 ``domain<TAB>category`` rows of the given categories, grouped by registrable domain.

    A domain listed under several of the chosen categories is yielded once per category; curation's
    label-conflict policy then decides (``drop`` removes it: its category is ambiguous).
    """
    from distilsec.data.readers.url_csv import registrable_domain

    skips = skips if skips is not None else SkipCounter()
    p = Path(path)
    if not p.is_file():
        raise DataError(f"UT1 categories file not found: {p}")
    wanted = set(categories)
    opener = lzma.open if p.suffix == ".xz" else open
    with opener(p, "rt", encoding="utf-8", errors="replace") as fh:  # type: ignore[operator]
        header = fh.readline().rstrip("\n").split("\t")
        if header[:2] != ["domain", "category"]:
            raise DataError(f"{p}: expected a 'domain<TAB>category' header, got {header}")
        for lineno, line in enumerate(fh, start=2):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2 or not parts[0].strip():
                skips.skip("malformed_row", f"{p.name}:{lineno}")
                continue
            domain, cat = parts[0].strip().lower(), parts[1].strip()
            if cat not in wanted:
                continue
            yield Example(text=domain, label=cat, group=registrable_domain(domain) or domain, source="ut1")


def _prepare_ut1(
    config: SemisupConfig, data_dir: str | Path | None
) -> tuple[list[Example], list[Example], list[Example], dict]:
    from distilsec.data.curate import curate, drop_cross_split_near_duplicates
    from distilsec.data.split import split_by_group

    s = config.semisup
    if len(s.categories) < 2:
        raise ConfigError("semisup.dataset 'ut1_categories' needs semisup.categories with at least two names")
    root = resolve_data_dir(data_dir or config.data.data_dir, required=("url",))
    skips = SkipCounter()
    raw = list(read_ut1_categories(root / "url" / "ut1_domain_categories.tsv.xz", s.categories, skips=skips))
    found = {ex.label for ex in raw}
    missing = sorted(set(s.categories) - found)
    if missing:
        raise DataError(f"UT1 has no domains for the categories {missing}")
    cur = config.curation

    def by_class(examples: list[Example]) -> dict[str, list[Example]]:
        out: dict[str, list[Example]] = {}
        for ex in examples:
            out.setdefault(str(ex.label), []).append(ex)
        return out

    # a generous first cap keeps MinHash curation cheap; the final cap comes after de-duplication
    pre = [e for c, v in sorted(by_class(raw).items()) for e in cap_by_group(v, 3 * s.per_class, config.run.seed)]
    curated = curate(pre, near_dup_threshold=cur.near_dup_threshold, num_perm=cur.num_perm, conflict_policy="drop")
    per_class = by_class(curated.examples)
    capped = [e for c in sorted(per_class) for e in cap_by_group(per_class[c], s.per_class, config.run.seed)]
    split = split_by_group(
        capped,
        val_fraction=config.split.val_fraction,
        test_fraction=config.split.test_fraction,
        random_state=config.run.seed,
    )
    kept, removed = drop_cross_split_near_duplicates(
        split.train, {"val": split.val, "test": split.test}, threshold=cur.near_dup_threshold, num_perm=cur.num_perm
    )
    report = {
        "read": len(raw),
        "read_skips": skips.as_dict(),
        "curation": curated.report,
        "cross_split_removed": removed,
    }
    return split.train, kept["val"], kept["test"], report


def prepare_semisup_data(config: SemisupConfig, *, data_dir: str | Path | None = None) -> SemisupData:
    """Read, curate and split; then carve the training split into labelled set and pool by group."""
    s = config.semisup
    if s.dataset == "ut1_categories":
        train, val, test, report = _prepare_ut1(config, data_dir)
        preprocess = "none"
    else:
        from distilsec.pipeline.run import prepare_data

        prepared = prepare_data(config, data_dir=data_dir)
        train, val, test, report, preprocess = (
            prepared.train,
            prepared.val,
            prepared.test,
            prepared.report,
            prepared.preprocess,
        )
    if s.max_per_group is not None:
        before = {"train": len(train), "val": len(val), "test": len(test)}
        train, val, test = (
            cap_per_group(part, s.max_per_group, config.run.seed + i) for i, part in enumerate((train, val, test))
        )
        report["max_per_group"] = {
            "cap": s.max_per_group,
            "removed": {k: before[k] - len(v) for k, v in (("train", train), ("val", val), ("test", test))},
        }
        log.info("max_per_group %d: removed %s", s.max_per_group, report["max_per_group"]["removed"])
    if len(train) < s.labelled + 10:
        raise DataError(f"the training split has {len(train)} examples, too few for semisup.labelled={s.labelled}")
    labelled, rest = carve_by_group(train, s.labelled, config.run.seed)
    pool = cap_by_group(rest, s.budget, config.run.seed + 1)
    classes = sorted({str(ex.label) for ex in labelled})
    val = [ex for ex in val if ex.label in classes]
    test = [ex for ex in test if ex.label in classes]
    groups = {name: {ex.group or ex.id for ex in part} for name, part in (("labelled", labelled), ("pool", pool))}
    if groups["labelled"] & groups["pool"]:
        raise DataError("internal error: a group is in both the labelled set and the pool")
    biggest = {}
    for name, part in (("labelled", labelled), ("pool", pool), ("val", val), ("test", test)):
        sizes: dict[str, int] = {}
        for ex in part:
            sizes[ex.group or ex.id] = sizes.get(ex.group or ex.id, 0) + 1
        top = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        biggest[name] = {"top5": top, "top5_share": round(sum(n for _, n in top) / max(1, len(part)), 3)}
    report["largest_groups"] = biggest
    report["semisup_split"] = {
        name: {"n": len(part), "n_groups": len({ex.group for ex in part})}
        for name, part in (("labelled", labelled), ("pool", pool), ("val", val), ("test", test))
    }
    log.info("labelled %d, pool %d, val %d, test %d", len(labelled), len(pool), len(val), len(test))
    return SemisupData(labelled, pool, val, test, classes, preprocess, report)
