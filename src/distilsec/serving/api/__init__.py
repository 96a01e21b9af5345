"""``distilsec serve``: model bundles behind an HTTP API (FastAPI + uvicorn), with micro-batching."""

from distilsec.serving.api.app import ServeSettings, create_app

__all__ = ["create_app", "ServeSettings"]
