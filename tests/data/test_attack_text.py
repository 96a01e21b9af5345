"""ATT&CK text cleaning, generic names and the sentence splitter on the nasty cases CTI text is full of."""

from __future__ import annotations

import pytest

from distilsec.data.attack_text import (
    citation_keys,
    clean_attack_text,
    generic_names,
    link_targets,
    mask_entities,
    split_sentences,
    strip_citations,
)

EXPLOSIVE = (
    " [Explosive](https://attack.mitre.org/software/S0569) has collected the MAC address from the victim's "
    "machine.(Citation: CheckPoint Volatile Cedar March 2015) "
)


def test_links_become_their_names_and_citations_go():
    assert clean_attack_text(EXPLOSIVE) == "Explosive has collected the MAC address from the victim's machine."


def test_several_citations_in_a_row_and_nested_parentheses_are_removed():
    text = (
        "It wiped disks.(Citation: CISA Alert (TA17-163A))(Citation: Dragos Crashoverride 2018) "
        "(Citation: X (2019) (v2))Then it left."
    )
    assert clean_attack_text(text) == "It wiped disks. Then it left."
    assert citation_keys(text) == ("CISA Alert (TA17-163A)", "Dragos Crashoverride 2018", "X (2019) (v2)")


def test_an_unclosed_citation_runs_to_the_end_and_case_and_spacing_vary():
    assert strip_citations("Done.(citation : Cut report").strip() == "Done."
    assert clean_attack_text("Done. ( Citation: A)") == "Done."


def test_html_tags_go_but_their_content_and_placeholders_stay():
    text = "Ran <code>net user &lt;name&gt; /add</code> on <b>host</b>, kill <PID> and<br>reboot."
    assert clean_attack_text(text) == "Ran net user <name> /add on host, kill <PID> and reboot."


def test_whitespace_is_collapsed_and_unicode_is_nfc():
    assert clean_attack_text("Cafe\u0301  uses\u00a0\n\n\tHTTP .") == "Caf\u00e9 uses HTTP."
    assert clean_attack_text("a\n\n\n\nb\n c", keep_lines=True) == "a\n\nb\nc"


def test_a_link_with_parentheses_in_its_url_and_brackets_in_its_text():
    text = "See [[Charming Kitten]](https://attack.mitre.org/groups/G0058) and [x](https://e.example/a_(b))."
    assert clean_attack_text(text) == "See [Charming Kitten] and x."


def test_link_targets_resolve_kinds_and_sub_techniques():
    text = (
        "[APT28](https://attack.mitre.org/groups/G0007) used [Mimikatz](https://attack.mitre.org/software/S0002) "
        "for [LSASS Memory](https://attack.mitre.org/techniques/T1003/001) in "
        "[Op X](https://attack.mitre.org/campaigns/C0022); see [a blog](https://blog.example/x)."
    )
    assert link_targets(text) == [
        ("APT28", "G0007", "group"),
        ("Mimikatz", "S0002", "software"),
        ("LSASS Memory", "T1003.001", "technique"),
        ("Op X", "C0022", "campaign"),
    ]


def test_generic_names_replace_linked_entities_by_kind_and_capitalise_at_sentence_start():
    text = (
        "[APT28](https://attack.mitre.org/groups/G0007) used [Mimikatz](https://attack.mitre.org/software/S0002) "
        "and [EvilRat](https://attack.mitre.org/software/S0001) for "
        "[OS Credential Dumping](https://attack.mitre.org/techniques/T1003). "
        "[Op X](https://attack.mitre.org/campaigns/C0022) followed.(Citation: R)"
    )
    out = clean_attack_text(text, "generic", kinds={"S0002": "tool", "S0001": "malware"})
    assert out == "The group used the tool and the malware for OS Credential Dumping. The campaign followed."
    # an unknown software ID is "the software"; a technique link keeps its name
    assert "[the software]" in generic_names("[Y](https://attack.mitre.org/software/S9999)")


def test_mask_entities_replaces_unlinked_names_but_not_inside_tokens():
    text = "EvilRat and ERat ran EvilRat.exe; evilrat-like code; xEvilRat. EvilRat left."
    out = mask_entities(text, {"malware": ["EvilRat", "ERat"], "tool": ["at"]})
    assert out == "the malware and the malware ran EvilRat.exe; evilrat-like code; xEvilRat. the malware left."


def test_names_must_be_keep_or_generic():
    with pytest.raises(ValueError, match="names must be"):
        clean_attack_text("x", "hide")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # dots inside tokens: file names, IPs, versions, URLs
        (
            "The actor ran cmd.exe and v1.2.3 of a.dll. It beaconed to 10.0.0.1 and https://x.example/a.php?b=c.d. "
            "Then it slept.",
            [
                "The actor ran cmd.exe and v1.2.3 of a.dll.",
                "It beaconed to 10.0.0.1 and https://x.example/a.php?b=c.d.",
                "Then it slept.",
            ],
        ),
        # abbreviations and initials
        (
            "It used tools, e.g. PowerShell, i.e. Windows ones. The U.S. Government and J. Smith et al. said so. "
            "See Fig. 3. No. 5 was next.",
            [
                "It used tools, e.g. PowerShell, i.e. Windows ones.",
                "The U.S. Government and J. Smith et al. said so.",
                "See Fig. 3.",
                "No. 5 was next.",
            ],
        ),
        # etc. at a sentence end, ellipses, ? and !, quotes
        (
            'It stole files, keys, etc. Then... it waited... Why? "Because!" It left.',
            ["It stole files, keys, etc.", "Then... it waited...", "Why?", '"Because!"', "It left."],
        ),
        # a dot before a lower-case word or a digit is no boundary
        ("Version 2. it ran. 3 hosts were hit.", ["Version 2. it ran. 3 hosts were hit."]),
    ],
)
def test_split_sentences_nasty_dots(text, expected):
    assert split_sentences(text) == expected


def test_split_sentences_markdown_lists_headings_and_line_breaks():
    text = (
        "# Overview\r\n"
        "The group used\n"
        "spearphishing with a wrapped line, and\n"
        "Word documents.\n"
        "\n"
        "Key findings:\n"
        "- First item\n"
        "* Second item\n"
        "1. Third item\n"
        "• Fourth item\n"
        "## Indicators\n"
        "IOC table below\n"
        "Hash list follows"
    )
    assert split_sentences(text) == [
        "Overview",
        "The group used spearphishing with a wrapped line, and Word documents.",
        "Key findings:",
        "First item",
        "Second item",
        "Third item",
        "Fourth item",
        "Indicators",
        "IOC table below",
        "Hash list follows",
    ]


def test_split_sentences_empty_and_whitespace():
    assert split_sentences("") == [] and split_sentences(" \n\n \t") == []


def test_split_sentences_is_fast():
    import time

    text = ("The malware ran cmd.exe /c whoami, e.g. on 10.0.0.1. It then used v1.2 of the tool! " * 5000).strip()
    t0 = time.perf_counter()
    out = split_sentences(text)
    assert len(out) == 10000
    assert time.perf_counter() - t0 < 2.0
