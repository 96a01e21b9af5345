"""Synthetic data: generators that write new labelled examples from seeds, and the filters they must pass.

* :class:`LLMGenerator`: an instruct LLM (llama.cpp or an OpenAI-compatible endpoint) through the
  teacher-call ledger;
* :class:`CmdlineMutator`, :class:`HTMLTemplateMutator`, :class:`URLMutator`: programmatic variations
  that keep the intent;
* :mod:`~distilsec.methods.synthesize.filters`: parse checks, near-duplicate checks against seeds and the test set,
  and the judge's label agreement.

The method that ties them together is :func:`distilsec.methods.synthesize.synthesize`.
"""

from distilsec.methods.synthesize.base import Candidate, Generator
from distilsec.methods.synthesize.brands import DEFAULT_BRANDS, Brand
from distilsec.methods.synthesize.cmdline_mutator import CmdlineMutator
from distilsec.methods.synthesize.filters import Rejection
from distilsec.methods.synthesize.html_mutator import HTMLTemplateMutator
from distilsec.methods.synthesize.llm_generator import LLMGenerator
from distilsec.methods.synthesize.url_mutator import URLMutator

__all__ = [
    "Candidate",
    "Generator",
    "Brand",
    "DEFAULT_BRANDS",
    "CmdlineMutator",
    "HTMLTemplateMutator",
    "URLMutator",
    "LLMGenerator",
    "Rejection",
    "make_mutator",
]


def make_mutator(task: str) -> CmdlineMutator | HTMLTemplateMutator | URLMutator:
    """The programmatic generator of a task (``"cmdline"``, ``"url"`` or ``"html"``)."""
    from distilsec.errors import ConfigError

    mutators = {"cmdline": CmdlineMutator, "url": URLMutator, "html": HTMLTemplateMutator}
    if task not in mutators:
        raise ConfigError(f"no programmatic generator for task {task!r}; known: {sorted(mutators)}")
    return mutators[task]()


# the method itself (was distilsec/methods/synthesize.py)
from distilsec.methods.synthesize.core import SynthResult, synthesize  # noqa: E402

__all__ += ["SynthResult", "synthesize"]
