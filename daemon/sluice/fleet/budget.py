"""Namespace budgets shared by every pod of a fleet, kept in Redis (a `BudgetGuard`).

    <prefix>:budget:<namespace>:<window_s>:<window index>    nano-USD committed by the fleet

One counter per namespace and window, holding what every pod spent plus what
it has reserved for calls in flight; it expires a minute after its window ends
(so a late settle still finds it, and Redis never keeps old windows). Integers
of nano-USD: INCRBY is exact where INCRBYFLOAT would drift.

Each provider call reserves its estimate with budget_reserve.lua, which admits
it while the counter is below the limit, atomically for the whole fleet: the
last admitted call crosses the limit by at most its own estimate, however many
pods and calls run at once. The estimate is the prompt and the call's output
cap at the deployment's price, an upper bound when the call has an output cap
(the request's max_tokens or the tier's max_output_tokens). The real cost is
settled after the call (budget_settle.lua) in the background: a request never
waits for it.

Redis slow or down (`FleetLink.call` gives None within fleet.command_timeout_ms,
at once while the link is degraded): the pod keeps to a conservative local share.
It assumes every pod spends as it does, and admits a call while

    last fleet total seen for the window + expected_replicas × its own spend since then < limit

that is, it spends at most (limit − last total seen) / fleet.expected_replicas.
What it spent meanwhile is added to the counter when Redis answers again (the
link's recovery hook, and in the background at the next reservation), so the
fleet's total counts it.

A Redis that lost its data (restarted without persistence, flushed) is told by
its epoch (epoch.lua: a token set once): each pod that has made a budgeted call
reads it with every poll, and when it changed, adds again everything it committed
in the current windows. The
counters are then the sum of every pod's own spending, as before the loss (a
reservation made in the half-second before the poll notices is the only gap).

A pod killed mid-call leaves its reservations counted until the window ends:
the fleet then spends less than its limit, never more.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from typing import Any

from sluice.cascade.budget import (
    BudgetCheck,
    BudgetDecision,
    BudgetLimit,
    ExhaustedAction,
    Hold,
    InMemoryBudgetGuard,
    decide,
    exhausted_message,
)
from sluice.fleet import lua
from sluice.fleet.background import Background
from sluice.fleet.link import FleetLink
from sluice.telemetry.logging import get_logger

log = get_logger("sluice.fleet")

NANO = 1_000_000_000
# A window's counter outlives its window by this, so a settle that arrives late finds it.
GRACE_S = 60.0

Key = tuple[str, int]  # (namespace, window index)


def nano(usd: float) -> int:
    return round(usd * NANO)


class FleetBudgetGuard:
    """The budgets of `policy` (limits, soft fraction, on_exhausted), counted in Redis."""

    def __init__(
        self,
        link: FleetLink,
        policy: InMemoryBudgetGuard,
        *,
        prefix: str,
        expected_replicas: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._link = link
        self._policy = policy
        self._prefix = prefix
        self._replicas = expected_replicas
        self._clock = clock
        self._reserve = link.script(lua.source("budget_reserve.lua"))
        self._settle = link.script(lua.source("budget_settle.lua"))
        self._seen: dict[Key, int] = {}  # the fleet's counter as Redis last gave it
        # Committed by this pod while Redis was unreachable (the local share's measure)...
        self._outage: dict[Key, int] = {}
        # ...and every change Redis has not taken yet (that, and settles that failed).
        self._unsynced: dict[Key, int] = {}
        # All this pod committed per window as Redis took it, to rebuild a lost counter.
        self._own: dict[Key, int] = {}
        self._epoch_script = link.script(lua.source("epoch.lua"))
        self._epoch: bytes | None = None
        self._token = uuid.uuid4().hex
        self._background = Background()
        self._reconciling = False
        link.on_recovered(self.reconcile)

    def use(self, policy: InMemoryBudgetGuard) -> None:
        """New limits (a config reload); the counters live in Redis and stay."""
        self._policy = policy

    # ---- windows and keys
    def _window(self, limit: BudgetLimit) -> int:
        return math.floor(self._clock() / limit.window_s)

    def _key(self, namespace: str, window: int, limit: BudgetLimit) -> str:
        return f"{self._prefix}:budget:{namespace}:{limit.window_s:g}:{window}"

    def _ttl_ms(self, window: int, limit: BudgetLimit) -> int:
        end = (window + 1) * limit.window_s
        return max(math.ceil((end - self._clock() + GRACE_S) * 1000), 1)

    def _estimate(self, key: Key) -> int:
        """The fleet's committed nano-USD as this pod reckons it (see the module docstring)."""
        own = self._outage.get(key, 0)
        return self._seen.get(key, 0) + self._unsynced.get(key, 0) + (self._replicas - 1) * own

    # ---- BudgetGuard
    def check(self, namespace: str) -> BudgetCheck:
        limit = self._policy.limit_for(namespace)
        if limit is None:
            return BudgetCheck(BudgetDecision.NORMAL, None, self._policy.on_exhausted)
        committed = self._estimate((namespace, self._window(limit))) / NANO
        return BudgetCheck(
            decide(committed, limit.usd, self._policy.soft_fraction),
            max(limit.usd - committed, 0.0),
            self._policy.on_exhausted,
        )

    def remaining(self, namespace: str) -> float | None:
        return self.check(namespace).remaining_usd

    def charge(self, namespace: str, usd: float) -> None:
        limit = self._policy.limit_for(namespace)
        if limit is not None:
            self.settle(Hold(namespace, 0.0, window=self._window(limit), remote=True), usd)

    async def reserve(self, namespace: str, usd: float) -> Hold:
        limit = self._policy.limit_for(namespace)
        if limit is None:
            return Hold(namespace, 0.0)
        window = self._window(limit)
        key = (namespace, window)
        estimate = max(nano(usd), 0)
        force = self._policy.on_exhausted is ExhaustedAction.CHEAPEST
        if self._unsynced and not self._link.degraded and not self._reconciling:
            # In the background: a request waits for one command at most. Until it lands,
            # `_estimate` counts the unsynced spending, so the admission stays conservative.
            self._background.spawn(self.reconcile())
        redis_key = self._key(namespace, window, limit)
        args = (nano(limit.usd), estimate, self._ttl_ms(window, limit), int(force))
        reply = await self._link.call(
            "budget_reserve", lambda r: self._reserve(keys=[redis_key], args=args)
        )
        if reply is not None:
            granted, committed = int(reply[0]), int(reply[1])
            self._seen[key] = committed
            if granted:
                self._own[key] = self._own.get(key, 0) + estimate
                return Hold(namespace, usd, window=window, remote=True)
            return Hold(namespace, 0.0, granted=False, window=window,
                        reason=exhausted_message(namespace))  # fmt: skip
        # Redis is unreachable: the local share.
        if key not in self._outage:  # once per namespace and outage: what an operator asks
            share = max(nano(limit.usd) - self._estimate(key), 0) / self._replicas / NANO
            log.warning("fleet_budget_local_share", namespace=namespace,
                        share_usd=round(share, 6), expected_replicas=self._replicas)  # fmt: skip
            self._outage[key] = 0
        if self._estimate(key) >= nano(limit.usd) and not force:
            return Hold(namespace, 0.0, granted=False, window=window,
                        reason=exhausted_message(namespace) + " (fleet budget: local share "
                        "while Redis is unreachable)")  # fmt: skip
        self._outage[key] = self._outage.get(key, 0) + estimate
        self._unsynced[key] = self._unsynced.get(key, 0) + estimate
        return Hold(namespace, usd, window=window)

    def settle(self, hold: Hold, usd: float) -> None:
        limit = self._policy.limit_for(hold.namespace)
        delta = nano(max(usd, 0.0)) - nano(hold.usd)
        if limit is None or delta == 0:
            return
        key = (hold.namespace, hold.window)
        if hold.remote:
            self._background.spawn(self._push(key, delta, limit))
            return
        # Reserved in the local share: its estimate is still to be added to Redis, so its
        # settle goes the same way (reconcile), after it and never without it.
        if key in self._outage:
            self._outage[key] = max(self._outage[key] + delta, 0)
        self._unsynced[key] = self._unsynced.get(key, 0) + delta
        if not self._link.degraded:
            self._background.spawn(self.reconcile())

    # ---- Redis in the background

    async def _push(self, key: Key, delta: int, limit: BudgetLimit) -> None:
        redis_key = self._key(key[0], key[1], limit)

        async def op(r: Any) -> tuple[Any]:
            # Wrapped: the script's own "window over" (None) is not a failed call.
            return (await self._settle(keys=[redis_key], args=[delta]),)

        reply = await self._link.call("budget_settle", op)
        if reply is None:
            self._unsynced[key] = self._unsynced.get(key, 0) + delta
        elif reply[0] is not None:
            self._seen[key] = int(reply[0])
            self._own[key] = self._own.get(key, 0) + delta

    async def reconcile(self) -> None:
        """Add what this pod committed while Redis was unreachable; drop windows that ended."""
        if self._reconciling:
            return
        self._reconciling = True
        try:
            for key in list(self._unsynced):
                limit = self._policy.limit_for(key[0])
                if limit is None or key[1] < self._window(limit):
                    self._unsynced.pop(key, None)
                    self._outage.pop(key, None)
                    continue
                if not await self._add(key, limit):
                    return
        finally:
            self._reconciling = False

    async def _add(self, key: Key, limit: BudgetLimit) -> bool:
        delta = self._unsynced.pop(key, 0)
        redis_key = self._key(key[0], key[1], limit)
        args = (nano(limit.usd), delta, self._ttl_ms(key[1], limit), 1)
        reply = await self._link.call(
            "budget_reconcile", lambda r: self._reserve(keys=[redis_key], args=args)
        )
        if reply is None:  # still unreachable: keep it for the next time
            self._unsynced[key] = self._unsynced.get(key, 0) + delta
            return False
        self._seen[key] = int(reply[1])
        self._own[key] = self._own.get(key, 0) + delta
        self._outage.pop(key, None)
        return True

    async def refresh(self) -> None:
        """Read the current windows' counters (other pods' spending; releases of their holds).

        A pod that found a namespace exhausted refuses its requests before any reservation,
        so without this it would not see the counter fall when other pods' calls fail.
        """
        if not self._seen and not self._own:
            return  # no budgeted call yet: no Redis command at all (lookups stay Redis-free)
        await self._check_epoch()
        current: dict[str, Key] = {}
        for namespace, window in list(self._seen):
            limit = self._policy.limit_for(namespace)
            if limit is not None and window == self._window(limit):
                current[self._key(namespace, window, limit)] = (namespace, window)
        for key in [k for k in self._seen if k not in current.values()]:
            del self._seen[key]
            self._own.pop(key, None)
        if not current:
            return
        names = list(current)
        values = await self._link.call("budget_refresh", lambda r: r.mget(names))
        if values is None:
            return
        for name, value in zip(names, values, strict=True):
            self._seen[current[name]] = int(value) if value is not None else 0

    async def _check_epoch(self) -> None:
        """Notice a Redis that lost its data; add this pod's own spending back into it."""
        name = f"{self._prefix}:budget-epoch"
        epoch = await self._link.call(
            "budget_epoch", lambda r: self._epoch_script(keys=[name], args=[self._token])
        )
        if epoch is None or epoch == self._epoch:
            return
        lost, self._epoch = self._epoch is not None, epoch
        if not lost:
            return
        for key, own in list(self._own.items()):
            self._own[key] = 0  # counted again as the reconcile adds it
            self._unsynced[key] = self._unsynced.get(key, 0) + own
        self._background.spawn(self.reconcile())

    async def aclose(self) -> None:
        """Wait for the settles in flight (each bounded by the link's command timeout)."""
        await self._background.wait()
