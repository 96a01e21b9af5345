"""Data: readers for upstream formats, curation, and group/time splits."""

from distilsec.data.example import Example
from distilsec.data.skips import SkipCounter

__all__ = ["Example", "SkipCounter"]
