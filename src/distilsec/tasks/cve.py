"""CVE task data: read every source, merge by CVE ID, curate labels, decontaminate, split by time.

The steps, each counted in the report:

1. read NVD JSON 2.0 + 1.1 feeds and CVE JSON 5 records; merge to one record per CVE ID
   (:func:`~distilsec.data.cve_record.merge_records`, stated precedence);
2. drop rejected records and records whose only labels are ``NVD-CWE-Other`` / ``NVD-CWE-noinfo``;
3. resolve labels against the CWE catalog: deprecated entries and categories are mapped to the weakness
   the catalog names (or dropped), unknown IDs are dropped (counted); multi-CWE records keep their
   primary label (or are dropped, ``multi_cwe: drop``);
4. remove records sharing an ID with, or nearly copying, any benchmark file the user passes
   (:mod:`distilsec.data.decontaminate`), from every period: the shipped model is refit on all of them;
5. exact and MinHash near-duplicate removal, then a time split (train/val before the cutoff, test from
   it), then test records nearly copying a training record are removed as well;
6. the refit set (``*_refit``): train + val + test, the records the shipped bundle is trained on last.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilsec._internal.console import progress
from distilsec.data.cve_record import CveRecord, merge_records
from distilsec.data.decontaminate import BenchText, check_contamination, decontaminate, new_cache
from distilsec.data.example import Example
from distilsec.data.paths import resolve_data_dir
from distilsec.data.readers.cwe import CweCatalog, read_cwe_catalog
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = ["CveData", "load_cve_records", "label_records", "prepare_cve_data", "SOURCE_PATHS"]

log = logging.getLogger("distilsec.data")

#: source -> (reader, path under <data>/cve)
SOURCE_PATHS: dict[str, tuple[str, str]] = {
    "nvd-2.0": ("nvd", "nvd-api-2.0"),
    "nvd-1.1": ("nvd", "nvd-json-1.1"),
    "cve5": ("cve5", "cisa-vulnrichment"),
}


@dataclass
class CveData:
    """Examples for both tasks; ``Example.label`` is a CWE ID (cwe_*) or a CVSS vector (cvss_*)."""

    cwe_train: list[Example]
    cwe_val: list[Example]
    cwe_test: list[Example]
    cvss_train: list[Example]
    cvss_val: list[Example]
    cvss_test: list[Example]
    catalog: CweCatalog
    report: dict[str, Any] = field(default_factory=dict)
    #: every curated, decontaminated record of the window (train + val + test; CWE: classes with at least
    #: ``min_class_count`` records in it): what the shipped model is refit on.
    cwe_refit: list[Example] = field(default_factory=list)
    cvss_refit: list[Example] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return sorted({str(e.label) for e in self.cwe_train})


def load_cve_records(
    root: Path, sources: Sequence[str], precedence: Sequence[str], skips: SkipCounter
) -> tuple[list[CveRecord], dict[str, Any]]:
    """Read the configured sources under ``root`` (``<data>/cve``) and merge them by CVE ID."""
    from distilsec.data.readers.cve5 import read_cve5
    from distilsec.data.readers.nvd import read_nvd

    unknown = sorted(set(sources) - set(SOURCE_PATHS))
    if unknown:
        raise DataError(f"unknown CVE sources {unknown}; known: {sorted(SOURCE_PATHS)}")
    records: list[CveRecord] = []
    per_source: dict[str, int] = {}
    with progress("spinner") as bar:
        for source in sources:
            kind, rel = SOURCE_PATHS[source]
            path = root / rel
            bar.add_task(f"reading {source} ({path.name})")
            if kind == "nvd":
                recs = list(read_nvd(path, skips=skips))
            else:
                archives = sorted(path.glob("*.tar*")) if path.is_dir() else []
                recs = [r for a in (archives or [path]) for r in read_cve5(a, skips=skips)]
            per_source[source] = len(recs)
            records += recs
    merged, report = merge_records(records, precedence)
    report["read_per_source"] = per_source
    return merged, report


def label_records(
    records: Sequence[CveRecord], catalog: CweCatalog, *, multi_cwe: str = "first", category_policy: str = "map"
) -> tuple[list[tuple[CveRecord, str]], dict[str, Any]]:
    """Pair each usable record with one current-weakness CWE label; count every record left out and why."""
    drops: Counter[str] = Counter()
    mapping: Counter[str] = Counter()
    mapped_pairs: Counter[str] = Counter()
    unknown_ids: Counter[str] = Counter()
    out: list[tuple[CveRecord, str]] = []
    for r in records:
        if r.rejected:
            drops["rejected"] += 1
            continue
        if not r.cwes:
            drops["no_cwe_entry"] += 1
            continue
        if not r.specific_cwes:
            drops["only_nvd_cwe_other_or_noinfo"] += 1
            continue
        labels: list[str] = []
        for c in r.specific_cwes:
            resolved, why = catalog.resolve(c)
            mapping[why] += 1
            if why == "unknown":
                unknown_ids[c] += 1
            if why.startswith("category") and category_policy == "drop":
                resolved = None
            if resolved is not None and why != "ok":
                mapped_pairs[f"{c}->{resolved}"] += 1
            if resolved is not None and resolved not in labels:
                labels.append(resolved)
        if not labels:
            drops["no_current_weakness_label"] += 1
            continue
        if len(labels) > 1:
            if multi_cwe == "drop":
                drops["multi_cwe_dropped"] += 1
                continue
            mapping["multi_cwe_kept_primary"] += 1
        out.append((r, labels[0]))
    report = {
        "n_in": len(records),
        "n_labelled": len(out),
        "dropped": dict(drops),
        "label_resolution": dict(mapping),
        "remapped": dict(mapped_pairs.most_common(30)),
        "remapped_total": sum(mapped_pairs.values()),
        "unknown_cwe_ids": dict(unknown_ids.most_common(20)),
        "multi_cwe_policy": multi_cwe,
        "category_policy": category_policy,
    }
    return out, report


def _bench_texts(paths: Sequence[str | Path]) -> tuple[list[BenchText], dict[str, Any]]:
    """Every described row of every benchmark file (a file with none is an error, never a warning)."""
    from distilsec.data.readers.cti_bench import read_bench_texts

    texts: list[BenchText] = []
    info: dict[str, Any] = {}
    for p in paths:
        bench = read_bench_texts(p)
        texts += [BenchText(it.cve_id, it.description, str(p)) for it in bench.items]
        info[str(p)] = {"task": bench.task, "rows": bench.n_rows, "usable": len(bench.items), "skips": bench.skips}
        log.info("benchmark %s: %d of %d rows protected (%s)", p, len(bench.items), bench.n_rows, bench.task)
    return texts, info


@dataclass
class _Caches:
    """Shingles and MinHash signatures shared by both tasks (they share most texts): computed once."""

    near_dup: Any
    decontamination: Any
    bench: list[BenchText]


def prepare_cve_data(config: Any, *, data_dir: str | Path | None = None, benchmarks: Sequence[str] = ()) -> CveData:
    """Everything from upstream files to decontaminated, time-split examples (``config`` is a Config).

    Both tasks (CWE, CVSS) go the same way, :func:`_prepare_task`: decontaminate -> curate (exact and near
    duplicates) -> split by time -> drop near-copies across splits -> (CWE) drop rare classes -> audit.
    """
    from distilsec.data.near_dup import ShingleCache

    cve = config.cve
    root = resolve_data_dir(data_dir or config.data.data_dir, required=("cve", "cwe"))
    # protected texts first: a benchmark file that protects nothing stops the run before minutes of reading
    bench, bench_info = _bench_texts([*cve.decontamination.benchmarks, *benchmarks])
    skips = SkipCounter()
    records, merge_report = load_cve_records(root / "cve", cve.sources, cve.precedence, skips)
    catalog = read_cwe_catalog(root / cve.cwe_path)
    report: dict[str, Any] = {
        "read": {"skips": skips.as_dict(), **merge_report},
        "cwe_catalog": {"version": catalog.version, "entries": len(catalog)},
    }
    if not records:
        raise DataError(f"no CVE records read under {root / 'cve'} (skips: {skips.as_dict()})")
    report["benchmarks"] = bench_info
    cwe_examples, cvss_examples = _task_examples(records, catalog, cve, report)
    caches = _Caches(ShingleCache(config.curation.num_perm), new_cache(), bench)
    out: dict[str, tuple[list[Example], ...]] = {}
    for task, task_examples in (("cwe", cwe_examples), ("cvss", cvss_examples)):
        out[task], report[task] = _prepare_task(config, task, task_examples, caches)
    cwe, cvss = out["cwe"], out["cvss"]
    return CveData(*cwe[:3], *cvss[:3], catalog=catalog, report=report, cwe_refit=cwe[3], cvss_refit=cvss[3])


def _task_examples(
    records: list[CveRecord], catalog: CweCatalog, cve: Any, report: dict[str, Any]
) -> tuple[list[Example], list[Example]]:
    """The CWE-labelled and the CVSS-labelled examples of the records up to ``cve.test_until``."""
    until = cve.test_until
    window = [r for r in records if not until or r.published[:10] < until]
    labelled, report["cwe_labels"] = label_records(
        window, catalog, multi_cwe=cve.multi_cwe, category_policy=cve.category_policy
    )
    cwe_examples = [r.to_example(label) for r, label in labelled]
    cvss_examples = [r.to_example(r.cvss_vector) for r in window if not r.rejected and _valid_vector(r)]
    report["cvss_labels"] = {
        "n_with_v3_vector": len(cvss_examples),
        "invalid_vectors": sum(1 for r in records if r.cvss_vector and not _valid_vector(r)),
    }
    return cwe_examples, cvss_examples


def _prepare_task(
    config: Any, task: str, examples: list[Example], caches: _Caches
) -> tuple[tuple[list[Example], ...], dict[str, Any]]:
    """One task's (train, val, test, refit) and its report."""
    from distilsec.data.split import split_by_time

    cve = config.cve
    rep: dict[str, Any] = {}
    if caches.bench:  # every period: the time-split model trains before the cutoff, the refit on all of it
        examples, rep["decontamination"] = _decontaminate_task(config, examples, caches)
    examples = _curate_task(config, task, examples, caches, rep)
    split = split_by_time(
        examples, cutoff=config.split.time_cutoff, val_fraction=config.split.val_fraction, random_state=config.run.seed
    )
    val, test = _drop_cross_split_copies(config, split, caches, rep)
    train = split.train
    refit = [*train, *val, *test]
    if task == "cwe":
        train, val, refit = _drop_rare_classes(train, val, test, refit, cve.min_class_count, rep)
    rep["split"] = {"train": len(train), "val": len(val), "test": len(test), "refit": len(refit), "info": split.info}
    if caches.bench:  # the audit, on the final training sets (after dedup, splitting and class filtering)
        for name, part in (("final_train_check", train), ("final_refit_check", refit)):
            rep["decontamination"][name] = check_contamination(
                part,
                caches.bench,
                threshold=cve.decontamination.threshold,
                ngram=cve.decontamination.ngram,
                cache=caches.decontamination,
            )
    return (train, val, test, refit), rep


def _decontaminate_task(config: Any, examples: list[Example], caches: _Caches) -> tuple[list[Example], dict[str, Any]]:
    """Remove benchmark copies; also count how many of them fell in the test period."""
    cve = config.cve
    kept, rep = decontaminate(
        examples,
        caches.bench,
        threshold=cve.decontamination.threshold,
        ngram=cve.decontamination.ngram,
        cache=caches.decontamination,
    )
    removed = set(rep["removed_ids"])
    cutoff = config.split.time_cutoff
    rep["removed_from_test_period"] = sum(1 for e in examples if e.id in removed and e.time and e.time >= cutoff)
    return kept, rep


def _curate_task(
    config: Any, task: str, examples: list[Example], caches: _Caches, rep: dict[str, Any]
) -> list[Example]:
    """Exact duplicates, label conflicts (a text with two labels: for CVSS, two vectors), near-duplicates."""
    from distilsec.data.curate import curate
    from distilsec.data.near_dup import near_dedup

    cache = caches.near_dup
    with progress("spinner") as bar:
        bar.add_task(f"{task}: exact + near-duplicate removal ({len(examples):,} records)")
        cur = curate(examples, near_dup_threshold=None, conflict_policy=config.curation.conflict_policy)
        curated = cur.examples
        kept_idx, dropped = near_dedup(
            [e.text for e in curated], [e.label for e in curated], config.curation.near_dup_threshold, cache
        )
    rep["curation"] = {k: v for k, v in cur.report.items() if k not in ("counts_in", "counts_out", "near_duplicates")}
    rep["curation"].update(
        near_duplicates_removed=len(dropped),
        near_duplicate_clusters=len(set(dropped.values())),
        near_duplicates={
            "threshold": config.curation.near_dup_threshold,
            "num_perm": cache.num_perm,
            "shingle": "char 5-grams, lower-cased",
            "hash": "crc32",
        },
    )
    return [curated[i] for i in kept_idx]


def _drop_cross_split_copies(
    config: Any, split: Any, caches: _Caches, rep: dict[str, Any]
) -> tuple[list[Example], list[Example]]:
    """Val and test without near-copies of a training record."""
    from distilsec.data.near_dup import near_copies

    parts = {"val": split.val, "test": split.test}
    copies = near_copies(
        [e.text for e in split.train],
        {name: [e.text for e in part] for name, part in parts.items()},
        config.curation.near_dup_threshold,
        caches.near_dup,
    )
    kept = {name: [e for i, e in enumerate(part) if i not in copies[name]] for name, part in parts.items()}
    rep["cross_split_near_duplicates_removed"] = {name: len(copies[name]) for name in parts}
    return kept["val"], kept["test"]


def _drop_rare_classes(
    train: list[Example],
    val: list[Example],
    test: list[Example],
    refit: list[Example],
    min_count: int,
    rep: dict[str, Any],
) -> tuple[list[Example], list[Example], list[Example]]:
    """CWE classes with fewer than ``min_count`` records leave train/val (and, counted on all, the refit)."""
    all_counts = Counter(str(e.label) for e in refit)
    refit = [e for e in refit if all_counts[str(e.label)] >= min_count]
    counts = Counter(str(e.label) for e in train)
    rare = {c for c, n in counts.items() if n < min_count}
    n_before = len(train)
    train = [e for e in train if e.label not in rare]
    val = [e for e in val if e.label not in rare]
    rep["rare_classes_dropped_from_train"] = {"classes": len(rare), "records": n_before - len(train)}
    classes = {str(e.label) for e in train}
    rep["test_label_coverage"] = round(sum(e.label in classes for e in test) / max(1, len(test)), 4)
    rep["n_classes"] = len(classes)
    return train, val, refit


def _valid_vector(r: CveRecord) -> bool:
    from distilsec.data.cvss import parse_vector

    if not r.cvss_vector:
        return False
    try:
        parse_vector(r.cvss_vector)
    except DataError:
        return False
    return True
