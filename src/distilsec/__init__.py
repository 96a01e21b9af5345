"""distilsec: big models teach small, local cybersecurity models."""

__version__ = "0.1.0"
