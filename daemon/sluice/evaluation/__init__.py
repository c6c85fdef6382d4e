"""Offline evaluations on public data (../shared/data): the cache, later routing."""
