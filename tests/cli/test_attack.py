"""`distilsec attack`: the --per-line --json interface, reports, folders, stdin, Navigator layers, bad input."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from distilsec.cli.app import app
from distilsec.serving.navigator import check_layer
from distilsec.students.attack_model import AttackModel

LINES = [
    "the actor used powershell to run encoded commands",
    "",
    "we thank our colleagues for their review",
    "   ",
    "the implant communicates with its c2 server over http",
    "victims received spearphishing emails with malicious attachments",
    "malware invokes powershell with a hidden window",
]
REPORT = """# APT99 report

## Execution
The actor used **PowerShell** to run [encoded commands](https://example.org/x). We thank our colleagues for
their review.

- Victims received spearphishing emails with malicious attachments
- The implant communicates with its C2 server over HTTP
"""


def _invoke(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, ["attack", *args, "--no-progress"], input=input, env=env)


@pytest.fixture
def lines_file(tmp_path):
    f = tmp_path / "lines.txt"
    f.write_text("\n".join(LINES) + "\n")
    return f


def test_per_line_json_is_one_object_per_input_line_with_top_and_techniques(tiny_attack_bundle, lines_file):
    res = _invoke(str(lines_file), "--model", str(tiny_attack_bundle), "--per-line", "--json")
    assert res.exit_code == 0, res.output
    out = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(out) == len(LINES)  # line numbers stay aligned, blank lines included
    for rec, line in zip(out, LINES, strict=True):
        assert set(rec) == {"top", "techniques"}
        if not line.strip():
            assert rec == {"top": None, "techniques": []}
        else:
            assert set(rec["top"]) == {"id", "name", "tactic", "score"}
            assert all(set(t) == {"id", "name", "tactic", "score"} for t in rec["techniques"])
    assert out[0]["top"] == {**out[0]["techniques"][0]} and out[0]["top"]["id"] == "T1059.001"
    assert out[0]["top"]["name"] == "PowerShell" and out[0]["top"]["tactic"] == "execution"
    assert out[2]["techniques"] == [] and out[2]["top"] is not None  # a negative sentence: no tag, still a top
    assert [r["top"]["id"] for r in out[4:]] == ["T1071", "T1566.001", "T1059.001"]
    scores = [t["score"] for r in out for t in r["techniques"]]
    assert all(0.4 <= s <= 1 for s in scores)  # only techniques at or above the bundle's threshold


def test_per_line_streams_in_batches_with_the_same_output(tiny_attack_bundle, lines_file, monkeypatch):
    whole = _invoke(str(lines_file), "--model", str(tiny_attack_bundle), "--per-line", "--json").stdout
    sizes: list[int] = []
    tag = AttackModel.tag

    def spy(self, sentences, **kw):
        sizes.append(len(sentences))
        return tag(self, sentences, **kw)

    monkeypatch.setattr(AttackModel, "tag", spy)
    res = _invoke(str(lines_file), "--model", str(tiny_attack_bundle), "--per-line", "--json", "--batch-size", "2")
    assert res.exit_code == 0, res.output
    assert res.stdout == whole
    assert sizes and max(sizes) <= 2 and sum(sizes) == 5  # never more than a batch at once; blanks not tagged


def test_per_line_from_stdin_and_top_k_candidates(tiny_attack_bundle):
    res = _invoke(
        "-", "--model", str(tiny_attack_bundle), "--per-line", "--json", "--top-k", "2", input="\n".join(LINES[:3])
    )
    assert res.exit_code == 0, res.output
    out = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(out) == 3 and out[1] == {"top": None, "techniques": []}
    assert len(out[0]["candidates"]) == 2 and out[0]["candidates"][0]["id"] == "T1059.001"


def test_report_json_is_one_document_per_report_with_sentences_and_aggregate(tiny_attack_bundle, tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "a.md").write_text(REPORT)
    (tmp_path / "reports" / "b.txt").write_text("The backdoor uses HTTP requests for command and control.")
    (tmp_path / "reports" / "notes.docx").write_bytes(b"PK\x03\x04")
    res = _invoke(str(tmp_path / "reports"), "--model", str(tiny_attack_bundle), "--json")
    assert res.exit_code == 0, res.output
    docs = [json.loads(line) for line in res.stdout.splitlines()]
    assert [d["report"].rsplit("/", 1)[-1] for d in docs] == ["a.md", "b.txt"]
    a = docs[0]
    assert set(a) == {"report", "sentences", "techniques"}
    assert a["sentences"][2]["text"] == "The actor used PowerShell to run encoded commands."
    assert all(set(s) == {"text", "top", "techniques"} for s in a["sentences"])
    found = {t["id"]: t for t in a["techniques"]}
    assert set(found) == {"T1059.001", "T1566.001", "T1071"}
    assert found["T1071"]["count"] == 1 and found["T1071"]["evidence"][0]["text"].startswith("The implant")
    assert found["T1059.001"]["tactics"] == ["execution"]
    assert "unsupported_suffix" in res.stderr  # the .docx was skipped and counted


def test_human_output_is_a_table_per_report_on_stderr(tiny_attack_bundle, tmp_path, monkeypatch):
    from distilsec._internal.console import console

    monkeypatch.setattr(console, "_width", 200)  # a wide terminal: no cell wraps
    f = tmp_path / "a.md"
    f.write_text(REPORT)
    res = _invoke(str(f), "--model", str(tiny_attack_bundle))
    assert res.exit_code == 0, res.output
    assert "T1566.001" in res.stderr and "Spearphishing Attachment" in res.stderr and "initial-access" in res.stderr
    assert "6 sentences, 3 tagged" in res.stderr
    per_line = _invoke(str(f), "--model", str(tiny_attack_bundle), "--per-line")
    assert per_line.exit_code == 0 and "line" in per_line.stderr and "T1059.001" in per_line.stderr


def test_navigator_layer_is_written_and_valid(tiny_attack_bundle, tmp_path):
    f = tmp_path / "a.md"
    f.write_text(REPORT)
    layer_path = tmp_path / "layer.json"
    res = _invoke(str(f), "--model", str(tiny_attack_bundle), "--navigator", str(layer_path))
    assert res.exit_code == 0, res.output
    layer = json.loads(layer_path.read_text())
    check_layer(layer)
    ids = {(t["techniqueID"], t.get("tactic")) for t in layer["techniques"]}
    assert {("T1059.001", "execution"), ("T1071", "command-and-control"), ("T1566.001", "initial-access")} <= ids
    parents = {t["techniqueID"] for t in layer["techniques"] if t["showSubtechniques"]}
    assert parents == {"T1059", "T1566"}  # the tagged sub-techniques are shown under open parents
    sub = next(t for t in layer["techniques"] if t["techniqueID"] == "T1566.001")
    assert "Victims received spearphishing emails" in sub["comment"] and 40 <= sub["score"] <= 100


def test_default_model_comes_from_the_environment_or_a_one_line_error(tiny_attack_bundle, lines_file):
    res = _invoke(str(lines_file), "--per-line", "--json", env={"DISTILSEC_ATTACK_MODEL": str(tiny_attack_bundle)})
    assert res.exit_code == 0 and len(res.stdout.splitlines()) == len(LINES)
    res = _invoke(str(lines_file), env={"DISTILSEC_ATTACK_MODEL": ""})
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "distilsec run configs/attack-techniques.yaml" in res.stderr and "DISTILSEC_ATTACK_MODEL" in res.stderr


def test_an_attack_run_folder_stands_for_its_shipped_tagger(tiny_attack_bundle, tmp_path, lines_file):
    run = tmp_path / "run"
    shutil.copytree(tiny_attack_bundle, run / "tagger")
    (run / "manifest.json").write_text(json.dumps({"type": "attack_run", "shipped": "tagger"}))
    direct = _invoke(str(lines_file), "--model", str(tiny_attack_bundle), "--per-line", "--json").stdout
    via_run = _invoke(str(lines_file), "--model", str(run), "--per-line", "--json")
    assert via_run.exit_code == 0, via_run.output
    assert via_run.stdout == direct


# ---- bad input: one clear line and a non-zero exit, or a logged, counted skip


def _one_error_line(res) -> str:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, res.stderr
    return errors[0]


def test_empty_report_is_skipped_and_nothing_to_tag_is_an_error(tiny_attack_bundle, tmp_path):
    f = tmp_path / "empty.md"
    f.write_text("\n \n")
    line = _one_error_line(_invoke(str(f), "--model", str(tiny_attack_bundle)))
    assert "nothing to tag" in line and "'empty': 1" in line


def test_binary_file_is_skipped_with_its_reason_next_to_a_good_report(tiny_attack_bundle, tmp_path, caplog):
    (tmp_path / "r.txt").write_text("The actor used PowerShell to run encoded commands.")
    (tmp_path / "x.txt").write_bytes(b"%PDF-1.7\n" + bytes(range(256)))
    res = _invoke(str(tmp_path / "r.txt"), str(tmp_path / "x.txt"), "--model", str(tiny_attack_bundle), "--json")
    assert res.exit_code == 0, res.output
    assert len(res.stdout.splitlines()) == 1
    assert "skipped 1 input(s): {'binary': 1}" in res.stderr
    assert "x.txt is a PDF (convert it to text first" in caplog.text


def test_report_over_max_bytes_is_refused_naming_the_cap(tiny_attack_bundle, tmp_path):
    f = tmp_path / "big.txt"
    f.write_text("The actor used PowerShell. " * 20)
    line = _one_error_line(_invoke(str(f), "--model", str(tiny_attack_bundle), "--max-bytes", "100"))
    assert "over the 100-byte cap on a report (--max-bytes)" in line


def test_non_utf8_report_is_tagged_with_a_note(tiny_attack_bundle, tmp_path):
    f = tmp_path / "latin1.txt"
    f.write_bytes("The actor used PowerShell to run encoded commands \xe9t\xe9.".encode("latin-1"))
    res = _invoke(str(f), "--model", str(tiny_attack_bundle), "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["techniques"][0]["id"] == "T1059.001" and "not_utf8" in res.stderr


def test_a_bundle_of_another_type_is_one_clear_error(tiny_attack_bundle, lines_file):
    line = _one_error_line(_invoke(str(lines_file), "--model", str(tiny_attack_bundle / "classifier")))
    assert "tfidf_linear.v1" in line and "needs an ATT&CK tagger" in line


def test_a_tampered_techniques_json_is_one_clear_error(tiny_attack_bundle, tmp_path, lines_file):
    bad = tmp_path / "tagger"
    shutil.copytree(tiny_attack_bundle, bad)
    (bad / "techniques.json").write_text('["T1059", "not an index"]')
    line = _one_error_line(_invoke(str(lines_file), "--model", str(bad)))
    assert "techniques.json" in line
    (bad / "techniques.json").write_text("{not json")
    assert "techniques.json" in _one_error_line(_invoke(str(lines_file), "--model", str(bad)))


def test_missing_report_and_bad_options_are_one_line_each(tiny_attack_bundle, tmp_path):
    assert "report not found" in _one_error_line(_invoke(str(tmp_path / "nope.md"), "--model", str(tiny_attack_bundle)))
    assert "--top-k" in _one_error_line(_invoke("-", "--model", str(tiny_attack_bundle), "--top-k", "0"))
    layer = tmp_path / "missing" / "layer.json"
    assert "cannot write the layer" in _one_error_line(
        _invoke("-", "--model", str(tiny_attack_bundle), "--navigator", str(layer))
    )


def test_score_on_a_tagger_labels_lines_with_techniques_at_their_own_thresholds(tiny_attack_bundle, tmp_path):
    from distilsec.bundle import update_manifest

    lines = "the actor used powershell to run encoded commands\nwe thank our colleagues for their review\n"
    res = CliRunner().invoke(app, ["score", "-", "--model", str(tiny_attack_bundle), "--no-progress"], input=lines)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["label"] for r in rows] == ["T1059.001", "none"] and rows[0]["score"] > 0.5 > rows[1]["score"]
    assert "distilsec attack --per-line --json" in res.stderr
    strict = tmp_path / "strict"
    shutil.copytree(tiny_attack_bundle, strict)
    update_manifest(strict, thresholds={"T1059.001": 0.999})  # a per-technique threshold above its score
    res = CliRunner().invoke(app, ["score", "-", "--model", str(strict), "--no-progress"], input=lines)
    assert [json.loads(line)["label"] for line in res.stdout.splitlines()] == ["none", "none"]
    res = _invoke("-", "--model", str(strict), "--per-line", "--json", input=lines)
    first = json.loads(res.stdout.splitlines()[0])
    assert first["techniques"] == [] and first["top"]["id"] == "T1059.001"  # top whatever its score
