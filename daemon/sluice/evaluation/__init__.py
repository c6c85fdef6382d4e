"""Offline evaluations on public data (docs/data.md): the cache and routing."""
