"""Serving: bundles in, scores out (runtime, scoring, sinks, HTTP API, Ray, ONNX export); no training code."""
