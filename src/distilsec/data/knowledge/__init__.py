"""Security knowledge as passages (ATT&CK, CWE, CAPEC, CVE): what the CTI assistant is taught and reads."""

from distilsec.data.knowledge.passage import Passage

__all__ = ["Passage"]
