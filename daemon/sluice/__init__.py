"""Sluice: a sidecar daemon that cuts the cost and latency of LLM calls."""

__version__ = "0.1.0"
