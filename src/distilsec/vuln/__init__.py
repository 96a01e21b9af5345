"""Vulnerability intelligence: CVE description -> CWE (hierarchy-aware) and CVSS v3.1 base metrics."""
