"""Every task a config may name is one module declaring a ``Task`` record, looked up by ``data.task``."""

from __future__ import annotations

import sys
import types
import typing

import pytest

from distilsec.config import DataSection
from distilsec.data.example import Example
from distilsec.errors import ConfigError
from distilsec.tasks import TASK_MODULES, Task, get_task, task_names
from distilsec.tasks.loaders import Input, counter_like, load_examples


def test_every_task_the_config_accepts_has_a_record():
    accepted = typing.get_args(DataSection.model_fields["task"].annotation)
    assert sorted(accepted) == sorted(task_names())
    for name in accepted:
        task = get_task(name)
        assert task.name == name and task.preprocess in ("none", "cmdline", "url") and task.split_unit


def test_unknown_task_names_the_key_and_the_known_tasks():
    with pytest.raises(ConfigError, match=r"unknown task 'dns' in data\.task; known: cmdline, url"):
        get_task("dns")


def test_a_new_task_is_one_module_with_a_task_record(monkeypatch):
    def inputs(data, explicit, skips):
        sub = counter_like(skips)
        sub.skip("unparseable", "dns.txt:2")
        yield Input("dns.txt", iter([Example(text="evil.example", label="malicious", group="g")]), sub)

    module = types.ModuleType("fake_dns_task")
    module.TASK = Task(name="dns", inputs=inputs, preprocess="none", split_unit="resolver")
    monkeypatch.setitem(sys.modules, "fake_dns_task", module)
    monkeypatch.setitem(TASK_MODULES, "dns", "fake_dns_task")
    data = types.SimpleNamespace(task="dns", data_dir=None, label_map={}, max_text_chars=100, sources=[])
    by_input: dict = {}
    examples = load_examples(data, by_input=by_input)
    assert [e.text for e in examples] == ["evil.example"]
    assert by_input == {"dns.txt": {"rows_in": 2, "read": 1, "skips": {"unparseable": 1}}}


def test_the_cve_task_is_not_read_by_load_examples():
    data = types.SimpleNamespace(task="cve", data_dir=None, label_map={}, max_text_chars=100, sources=[])
    assert get_task("cve").metric_family == "cwe"
    with pytest.raises(Exception, match="unknown task 'cve'"):
        load_examples(data)


def test_cmdline_sources_stay_importable_from_the_loaders_module():
    from distilsec.tasks.cmdline import CMDLINE_SOURCES
    from distilsec.tasks.loaders import CMDLINE_SOURCES as old

    assert old is CMDLINE_SOURCES and "lolbas" in CMDLINE_SOURCES
