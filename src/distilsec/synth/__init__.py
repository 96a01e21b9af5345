"""Synthetic data: generators that write new labelled examples from seeds, and the filters they must pass.

* :class:`LLMGenerator`: an instruct LLM (llama.cpp or an OpenAI-compatible endpoint) through the
  teacher-call ledger;
* :class:`CmdlineMutator`, :class:`HTMLTemplateMutator`, :class:`URLMutator`: programmatic variations
  that keep the intent;
* :mod:`~distilsec.synth.filters`: parse checks, near-duplicate checks against seeds and the test set,
  and the judge's label agreement.

The method that ties them together is :func:`distilsec.methods.synthesize.synthesize`.
"""

from distilsec.synth.base import Candidate, Generator
from distilsec.synth.brands import DEFAULT_BRANDS, Brand
from distilsec.synth.cmdline_mutator import CmdlineMutator
from distilsec.synth.filters import Rejection
from distilsec.synth.html_mutator import HTMLTemplateMutator
from distilsec.synth.llm_generator import LLMGenerator
from distilsec.synth.url_mutator import URLMutator

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
