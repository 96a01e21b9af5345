"""`POST /v1/attack`: mounted only with an ATT&CK tagger; the same tags as `distilsec attack`; its errors."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the 'serve' extra (fastapi, uvicorn) is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from distilsec.bundle import load_model, update_manifest  # noqa: E402
from distilsec.serving.api import ServeSettings, create_app  # noqa: E402
from distilsec.serving.reports import report_sentences  # noqa: E402
from tests.conftest import make_texts  # noqa: E402

REPORT = (
    "# APT99\n\nThe actor used **PowerShell** to run encoded commands. We thank our colleagues for their review.\n\n"
    "- Victims received spearphishing emails with malicious attachments\n"
)


@pytest.fixture(scope="module")
def url_bundle(tmp_path_factory):
    from distilsec.students import HashedLinearStudent

    texts, y, _ = make_texts(80, seed=5)
    path = HashedLinearStudent(n_features=2**10, epochs=1).fit(texts, y).save(tmp_path_factory.mktemp("u") / "m")
    update_manifest(path, threshold=0.5, preprocess="none", positive="malicious", negative="benign")
    return path


@pytest.fixture(scope="module")
def client(tiny_attack_bundle, url_bundle):
    settings = ServeSettings(models={"cmd": str(url_bundle), "tagger": str(tiny_attack_bundle)}, max_request_bytes=4096)
    with TestClient(create_app(settings)) as c:
        yield c


def test_report_text_gets_the_same_tags_as_the_command_line(client, tiny_attack_bundle):
    r = client.post("/v1/attack", json={"text": REPORT, "format": "markdown"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "tagger"  # the first tagger served, though "cmd" is the default of /v1/score
    tagger = load_model(tiny_attack_bundle)
    sentences = report_sentences(REPORT, "markdown")
    assert [s["text"] for s in body["sentences"]] == sentences
    tags = tagger.tag(sentences)
    for got, tag in zip(body["sentences"], tags, strict=True):
        assert got["top"]["id"] == tag["top"]["id"] and got["top"]["score"] == pytest.approx(tag["top"]["score"])
        assert [t["id"] for t in got["techniques"]] == [t["id"] for t in tag["techniques"]]
        assert "candidates" not in got
    found = {t["id"]: t for t in body["techniques"]}
    assert set(found) == {"T1059.001", "T1566.001"}
    assert found["T1566.001"]["evidence"][0]["text"].startswith("Victims received")
    assert found["T1059.001"]["tactics"] == ["execution"] and found["T1059.001"]["count"] == 1


def test_sentences_keep_their_positions_blank_ones_get_no_tags(client):
    r = client.post(
        "/v1/attack",
        json={"sentences": ["the implant communicates with its c2 server over http", "  ", "thanks"], "top_k": 2},
    )
    assert r.status_code == 200, r.text
    s = r.json()["sentences"]
    assert len(s) == 3 and s[1] == {"text": "", "top": None, "techniques": []}
    assert s[0]["techniques"][0]["id"] == "T1071" and len(s[0]["candidates"]) == 2
    assert s[2]["techniques"] == [] and s[2]["top"] is not None
    assert client.post("/v1/attack", json={"sentences": []}).json() == {
        "model": "tagger",
        "sentences": [],
        "techniques": [],
    }


def test_model_errors_and_invalid_bodies(client):
    assert client.post("/v1/attack", json={"text": "x", "model": "cmd"}).status_code == 400
    assert client.post("/v1/attack", json={"text": "x", "model": "nope"}).status_code == 404
    assert client.post("/v1/attack", json={"text": "x", "sentences": ["y"]}).status_code == 422
    assert client.post("/v1/attack", json={"text": "x", "format": "pdf"}).status_code == 422
    assert client.post("/v1/attack", json={"text": "x", "top_k": 0}).status_code == 422
    assert client.post("/v1/attack", json={"text": "x" * 5000}).status_code == 413  # the Door's body limit


def test_score_and_models_work_on_a_tagger(client):
    models = {m["name"]: m for m in client.get("/v1/models").json()}
    assert models["tagger"]["type"] == "attack_model.v1" and "none" in models["tagger"]["classes"]
    r = client.post(
        "/v1/score", json={"texts": ["the actor used powershell to run encoded commands", "thanks"], "model": "tagger"}
    )
    results = r.json()["results"]
    assert results[0]["label"] == "T1059.001" and results[0]["score"] > 0.5
    assert results[1]["label"] == "none"
    assert "/v1/attack" in client.get("/openapi.json").json()["paths"]


def test_attack_route_is_mounted_only_when_a_tagger_is_served(url_bundle):
    with TestClient(create_app(ServeSettings(models={"cmd": str(url_bundle)}))) as c:
        assert c.post("/v1/attack", json={"text": "x"}).status_code == 404
        assert "/v1/attack" not in c.get("/openapi.json").json()["paths"]
