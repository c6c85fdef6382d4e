"""Routing: which tier the cascade starts at.

Built: fixed routing (the caller's hints, else the cheapest tier, so the
cascade decides by confidence). Rules, the complexity classifier, the bandit
and shadow / A-B / rollout are issue #6 and not built yet.
"""
