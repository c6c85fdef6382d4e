"""The semantic cache: exact layer, vector layer, entries with TTL and LRU, snapshots."""
