"""Readers for the upstream data formats: one module per format, each a streaming generator.

Every reader takes the path of what its upstream project publishes (a checkout, an archive, a list)
and yields :class:`~distilsec.data.example.Example` records; bad records are counted in the optional
``skips`` counter instead of raising, and a missing path is a :class:`~distilsec.errors.DataError`
raised when the reader is called.
"""

from distilsec._internal.lazy import lazy_exports

__all__ = [
    "read_lolbas",
    "read_atomic_red_team",
    "read_gtfobins",
    "read_loobins",
    "read_tldr",
    "read_nl2bash",
    "read_slp",
    "read_commands_jsonl",
    "read_url_csv",
    "read_url_list",
    "read_phishtank_csv",
    "read_iscx_csv",
    "read_table",
    "read_html_index",
    "read_html_dir",
    "read_html_page",
    "decode_html",
    "registrable_domain",
    "url_parts",
    "substitute_arguments",
]

_WHERE = {
    "read_atomic_red_team": "distilsec.data.readers.atomic_red_team",
    "substitute_arguments": "distilsec.data.readers.atomic_red_team",
    "read_commands_jsonl": "distilsec.data.readers.commands_jsonl",
    "read_gtfobins": "distilsec.data.readers.gtfobins",
    "decode_html": "distilsec.data.readers.html",
    "read_html_dir": "distilsec.data.readers.html",
    "read_html_index": "distilsec.data.readers.html",
    "read_html_page": "distilsec.data.readers.html",
    "read_lolbas": "distilsec.data.readers.lolbas",
    "read_loobins": "distilsec.data.readers.loobins",
    "read_nl2bash": "distilsec.data.readers.nl2bash",
    "read_slp": "distilsec.data.readers.slp",
    "read_table": "distilsec.data.readers.tabular",
    "read_tldr": "distilsec.data.readers.tldr",
    "read_iscx_csv": "distilsec.data.readers.url_csv",
    "read_phishtank_csv": "distilsec.data.readers.url_csv",
    "read_url_csv": "distilsec.data.readers.url_csv",
    "read_url_list": "distilsec.data.readers.url_csv",
    "registrable_domain": "distilsec.data.readers.url_csv",
    "url_parts": "distilsec.data.readers.url_csv",
}


# Readers are imported on first use: importing one reader (``distilsec score`` reads event files through
# :mod:`distilsec.data.readers.events`) must not import every format's dependencies.
__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
