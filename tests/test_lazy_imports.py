"""Start-up cost of `distilsec score` (issue 11, item 9): the registry imports only what a name needs.

Before, looking up any model type imported every student, teacher and CVE model (torch, transformers,
the LLM stack, sklearn): 8 s before the first event was scored, even for an ONNX bundle.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from distilsec.errors import ConfigError
from distilsec.registry import _REGISTRY, BUILTINS, create, get_factory, register, registered

HEAVY = ("torch", "transformers", "sklearn", "scipy", "pandas", "llama_cpp")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return set(out.stdout.split())


def test_importing_the_cli_imports_no_model_framework():
    loaded = _modules_after("import distilsec.cli.app")
    assert not loaded & set(HEAVY)


def test_registry_lookup_imports_only_the_module_the_name_points_to():
    loaded = _modules_after("from distilsec.registry import get_factory; get_factory('char_cnn.v1')")
    assert "torch" in loaded and "distilsec.students.char_cnn" in loaded
    assert not loaded & {"transformers", "llama_cpp", "distilsec.teachers.encoder", "distilsec.students.cve_model"}
    assert "distilsec.students.tfidf_linear" not in loaded


def test_builtin_table_matches_the_register_decorators():
    for name in BUILTINS:
        assert get_factory(name).registry_name == name


def test_names_registered_by_decorator_still_work():
    @register("user_model.v1")
    class UserModel:
        def __init__(self, size: int = 1) -> None:
            self.size = size

    try:
        assert get_factory("user_model.v1") is UserModel and create("user_model.v1", {"size": 3}).size == 3
        assert "user_model.v1" in registered() and "char_cnn.v1" in registered()
        with pytest.raises(ConfigError, match="user_model.v1"):
            get_factory("no_such_model.v1")  # the error lists every known name, registered ones included
    finally:
        _REGISTRY.pop("user_model.v1", None)


def test_students_and_teachers_packages_still_export_their_classes():
    from distilsec.students import CharCNNStudent, SoftTargets
    from distilsec.teachers import EnsembleTeacher

    assert CharCNNStudent.registry_name == "char_cnn.v1" and SoftTargets.__name__ == "SoftTargets"
    assert EnsembleTeacher.registry_name == "ensemble.v1"
    with pytest.raises(AttributeError):
        import distilsec.students as students

        _ = students.NoSuchStudent
