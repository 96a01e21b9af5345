"""Readers for the upstream data formats: one module per format, each a streaming generator.

Every reader takes the path of what its upstream project publishes (a checkout, an archive, a list)
and yields :class:`~distilsec.data.example.Example` records; bad records are counted in the optional
``skips`` counter instead of raising, and a missing path is a :class:`~distilsec.errors.DataError`
raised when the reader is called.
"""

from distilsec.data.readers.atomic_red_team import read_atomic_red_team, substitute_arguments
from distilsec.data.readers.commands_jsonl import read_commands_jsonl
from distilsec.data.readers.gtfobins import read_gtfobins
from distilsec.data.readers.html import decode_html, read_html_dir, read_html_index, read_html_page
from distilsec.data.readers.lolbas import read_lolbas
from distilsec.data.readers.loobins import read_loobins
from distilsec.data.readers.nl2bash import read_nl2bash
from distilsec.data.readers.slp import read_slp
from distilsec.data.readers.tabular import read_table
from distilsec.data.readers.tldr import read_tldr
from distilsec.data.readers.url_csv import (
    read_iscx_csv,
    read_phishtank_csv,
    read_url_csv,
    read_url_list,
    registrable_domain,
    url_parts,
)

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
