"""What the encoder teacher reads: the raw text, or the HTML view of a page."""

from __future__ import annotations

import pytest

from distilsec.errors import ConfigError
from distilsec.teachers import EncoderTeacher


def test_html_view_is_what_the_encoder_reads() -> None:
    page = "<head><style>x{}</style><title>Log in</title></head><form action=a.php><input type=password></form>"
    t = EncoderTeacher(text_view="html", max_length=16)
    assert t._view([page]) == ["title: Log in | form: form get a.php; password"]
    assert EncoderTeacher()._view([page]) == [page]
    assert t.get_params()["text_view"] == "html"  # saved in the bundle, applied again when scoring


def test_unknown_view_fails_before_any_model_is_loaded() -> None:
    with pytest.raises(ConfigError, match="unknown text view 'pdf'"):
        EncoderTeacher(model="no/such/model", text_view="pdf").fit(["a", "b"], ["x", "y"])
