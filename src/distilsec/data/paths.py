"""Where the data lives: ``--data-dir`` > config > ``$DISTILSEC_DATA`` > ``../shared/data`` if present."""

from __future__ import annotations

import os
from pathlib import Path

from distilsec.errors import DataError

__all__ = ["resolve_data_dir", "ENV_VAR"]

ENV_VAR = "DISTILSEC_DATA"


def _candidates() -> list[Path]:
    here = Path(__file__).resolve()
    # a checkout at <root>/src/distilsec/data/paths.py: shared/ sits beside <root>
    return [Path.cwd() / ".." / "shared" / "data", here.parents[4] / "shared" / "data"]


def resolve_data_dir(explicit: str | Path | None = None, *, required: tuple[str, ...] = ()) -> Path:
    """The data root; ``required`` names sub-folders that must exist (e.g. ``("cmdline",)``)."""
    tried: list[str] = []
    options: list[Path] = []
    if explicit:
        options.append(Path(explicit))
    elif os.environ.get(ENV_VAR):
        options.append(Path(os.environ[ENV_VAR]))
    else:
        options.extend(_candidates())
    for p in options:
        p = p.expanduser().resolve()
        tried.append(str(p))
        if p.is_dir() and all((p / r).exists() for r in required):
            return p
    need = f" containing {', '.join(required)}/" if required else ""
    raise DataError(
        f"no data directory{need} found (tried: {'; '.join(tried)}). Pass --data-dir DIR, set "
        f"{ENV_VAR}=DIR, or set data.data_dir in the config. The layout is <DIR>/cmdline/raw/..., "
        "<DIR>/url/urls.csv.gz, <DIR>/html/index.csv (see the README's Data section)."
    )
