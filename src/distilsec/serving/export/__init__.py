"""Deployment exports: students to ONNX (+ int8), with a parity check against the trained model."""

from distilsec.serving.export.onnx import ExportResult, export_onnx

__all__ = ["export_onnx", "ExportResult"]
