"""Why the ATT&CK reader uses plain json: time json vs stix2 vs mitreattack-python on one bundle, side by side.

stix2 and mitreattack-python are not distilsec dependencies; run this in a throwaway environment::

    python -m venv /tmp/stixenv && /tmp/stixenv/bin/pip install stix2 mitreattack-python
    /tmp/stixenv/bin/python benchmarks/stix_readers.py ../shared/data/attack/enterprise-attack.json.gz
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path


def main(path: str) -> None:
    raw = gzip.decompress(Path(path).read_bytes()).decode() if path.endswith(".gz") else Path(path).read_text()
    t = time.perf_counter()
    bundle = json.loads(raw)
    t_json = time.perf_counter() - t

    import stix2  # noqa: PLC0415 - optional, see the module docstring

    t = time.perf_counter()
    _ = [stix2.parse(o, allow_custom=True) for o in bundle["objects"]]
    t_stix2 = time.perf_counter() - t

    from mitreattack.stix20 import MitreAttackData  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        fixed = Path(tmp) / "bundle.json"  # MitreAttackData wants a bundle id that is a STIX identifier
        fixed.write_text(json.dumps(bundle | {"id": f"bundle--{uuid.uuid4()}"}))
        t = time.perf_counter()
        MitreAttackData(str(fixed))
        t_mitre = time.perf_counter() - t
    print(
        f"objects {len(bundle['objects'])}; json.loads {t_json:.2f} s; stix2.parse per object (allow_custom) "
        f"{t_stix2:.2f} s ({t_stix2 / t_json:.0f}x); MitreAttackData {t_mitre:.2f} s ({t_mitre / t_json:.0f}x)"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/attack/enterprise-attack.json.gz")
