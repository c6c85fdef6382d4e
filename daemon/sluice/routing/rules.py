"""Rules: keywords, regex, prompt length, task tags → a tier or a model. First match wins."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sluice.routing.policy import Choice, RouteContext, Stateless
from sluice.routing_config import RuleSettings, RulesPolicySettings


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    tier: int
    model: str = ""
    keywords: tuple[str, ...] = ()  # case-folded
    pattern: re.Pattern[str] | None = None
    min_chars: int | None = None
    max_chars: int | None = None
    task_tags: frozenset[str] = frozenset()

    def matches(self, context: RouteContext) -> bool:
        text = context.question
        if self.min_chars is not None and len(text) < self.min_chars:
            return False
        if self.max_chars is not None and len(text) > self.max_chars:
            return False
        if self.task_tags and not self.task_tags.intersection(context.task_tags):
            return False
        if self.keywords:
            folded = text.casefold()
            if not any(k in folded for k in self.keywords):
                return False
        return self.pattern is None or self.pattern.search(text) is not None


class RulesPolicy(Stateless):
    kind = "rules"
    needs_vector = False

    def __init__(self, rules: Sequence[Rule], fallback_tier: int = 0) -> None:
        self.rules = tuple(rules)
        self.fallback_tier = fallback_tier

    @classmethod
    def from_settings(
        cls,
        settings: RulesPolicySettings,
        tier_index: Callable[[str], int],
        model_tier: Callable[[str], int],
    ) -> RulesPolicy:
        def build(r: RuleSettings) -> Rule:
            return Rule(
                name=r.name,
                tier=tier_index(r.tier) if r.tier is not None else model_tier(r.model or ""),
                model=r.model or "",
                keywords=tuple(k.casefold() for k in r.keywords),
                pattern=re.compile(r.regex) if r.regex is not None else None,
                min_chars=r.min_chars,
                max_chars=r.max_chars,
                task_tags=frozenset(r.task_tags),
            )

        fallback = tier_index(settings.fallback_tier) if settings.fallback_tier else 0
        return cls([build(r) for r in settings.rules], fallback)

    def choose(self, context: RouteContext) -> Choice:
        for rule in self.rules:
            if rule.matches(context):
                return Choice(rule.tier, f"rule {rule.name}", 1.0, rule.model)
        return Choice(self.fallback_tier, "no rule matched", 0.0)
