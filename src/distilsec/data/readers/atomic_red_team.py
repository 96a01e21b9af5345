"""Atomic Red Team: attack-simulation tests, one executor command per test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distilsec.data.example import Example
from distilsec.data.readers._common import clean_text, counter, load_yaml_mapping, need_dir, sorted_files
from distilsec.data.skips import SkipCounter

__all__ = ["read_atomic_red_team", "substitute_arguments", "platform_of"]

SOURCE = "atomic-red-team"

_ARG = re.compile(r"#\{([^{}]+)\}")
_PLATFORMS = {"windows": "windows", "linux": "linux", "macos": "macos"}


def substitute_arguments(command: str, defaults: dict[str, Any]) -> str:
    """Replace ``#{name}`` with the default of input argument ``name`` (its string form).

    This is what Invoke-AtomicTest does before running a test, so the result looks like a real
    command line instead of carrying the ``#{...}`` placeholder syntax that no other source uses
    (a shortcut a model would learn). Unknown names are left as they are; a ``None`` default
    becomes an empty string.
    """

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in defaults:
            return m.group(0)
        value = defaults[name]
        return "" if value is None else str(value)

    return _ARG.sub(repl, command)


def platform_of(supported: Any) -> str:
    """The first of ``supported_platforms`` as windows / linux / macos, else ``other`` (cloud, SaaS...)."""
    if isinstance(supported, list) and supported:
        return _PLATFORMS.get(str(supported[0]).strip().lower(), "other")
    return "other"


def read_atomic_red_team(
    root: str | Path, *, skips: SkipCounter | None = None, substitute_defaults: bool = False
) -> Iterator[Example]:
    """Stream ``atomic_tests[].executor.command`` of an Atomic Red Team checkout as malicious examples.

    Parameters
    ----------
    root : the checkout, i.e. the folder that holds ``atomics/T*/T*.yaml``.
    skips : counter for dropped records; tests with a ``manual`` executor (``manual_executor``) or
        without a command (``no_command``) are counted there, as upstream does not run them either.
    substitute_defaults : replace ``#{name}`` placeholders by the input argument defaults; this is
        preferable to stripping placeholders, because the result is what actually runs.

    Returns
    -------
    Iterator[Example]
        One example per test. ``group`` is the ATT&CK technique (``T1105``) so that all tests of a
        technique stay on one side of a split; multi-line scripts are kept as one record.

    Raises
    ------
    DataError
        When ``root`` or ``root/atomics`` is missing (raised at call time).
    """
    base = need_dir(root, "Atomic Red Team checkout", "a folder with atomics/T*/T*.yaml")
    need_dir(base / "atomics", "Atomic Red Team atomics folder", "atomics/T*/T*.yaml")
    return _iter(base, counter(skips), substitute_defaults)


def _iter(base: Path, skips: SkipCounter, substitute: bool) -> Iterator[Example]:
    for path in sorted_files(base / "atomics", "T*/T*.yaml"):
        rel = path.relative_to(base).as_posix()
        doc = load_yaml_mapping(path, rel, skips)
        if doc is None:
            continue
        tests = doc.get("atomic_tests")
        if not isinstance(tests, list):
            skips.skip("no_tests", rel)
            continue
        technique = str(doc.get("attack_technique") or path.stem)
        for i, test in enumerate(tests):
            ex = _test(test, technique, doc.get("display_name"), rel, i, skips, substitute)
            if ex is not None:
                yield ex


def _test(
    test: Any, technique: str, technique_name: Any, rel: str, index: int, skips: SkipCounter, substitute: bool
) -> Example | None:
    where = f"{rel}#atomic_tests[{index}]"
    if not isinstance(test, dict):
        skips.skip("malformed_entry", where)
        return None
    executor = test.get("executor")
    if not isinstance(executor, dict):
        skips.skip("no_command", where)
        return None
    if str(executor.get("name", "")).lower() == "manual":
        skips.skip("manual_executor", where)
        return None
    if not executor.get("command"):
        skips.skip("no_command", where)
        return None
    args = test.get("input_arguments")
    defaults = (
        {str(k): (v.get("default") if isinstance(v, dict) else None) for k, v in args.items()}
        if isinstance(args, dict)
        else {}
    )
    command = executor["command"]
    if substitute and isinstance(command, str):
        command = substitute_arguments(command, defaults)
    text = clean_text(command, where, skips)
    if text is None:
        return None
    return Example(
        text=text,
        label="malicious",
        group=technique,
        source=SOURCE,
        platform=platform_of(test.get("supported_platforms")),
        meta={
            "technique": technique,
            "technique_name": technique_name,
            "test_name": test.get("name"),
            "test_guid": test.get("auto_generated_guid"),
            "executor": executor.get("name"),
            "elevation_required": bool(executor.get("elevation_required", False)),
            "supported_platforms": test.get("supported_platforms"),
            "input_argument_defaults": defaults,
            "defaults_substituted": substitute,
            "upstream_path": rel,
            "upstream_index": index,
        },
    )
