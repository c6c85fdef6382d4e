"""Cache snapshots: entries + vectors in a directory, written atomically.

    <dir>/CURRENT            name of the newest complete snapshot
    <dir>/snap-<n>/meta.json format, version, model id, sha256 of every file
    <dir>/snap-<n>/entries.jsonl, g<i>.* (vectors or hnswlib index per group)

A snapshot is written into a temporary folder, every file fsynced, the
folder renamed, then CURRENT replaced (write, fsync, rename). A reader
therefore sees the old snapshot or the new one, never half of one; kill -9
loses at most what came after the last snapshot. A snapshot that is corrupt,
truncated, of another format version or of another embedding model is
logged and skipped: the daemon starts empty rather than not at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from sluice.cache.entry import Entry
from sluice.cache.expiry import trusted_time
from sluice.cache.tier import CacheTier
from sluice.config import MAX_TTL_S
from sluice.telemetry.logging import get_logger
from sluice.telemetry.metrics import Metrics
from sluice.types import Usage

FORMAT = "sluice-cache-snapshot"
VERSION = 1
log = get_logger("sluice.snapshot")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _entry_row(e: Entry, keep_question: bool) -> str:
    # Without a verifier the question (a prompt body) is not written: lookups need only
    # its digest and vector, and a snapshot should not hold what users asked. The verifier
    # compares question texts, so with it on they are kept (docs/RELIABILITY.md).
    row = [e.id, e.namespace, e.scope, e.exact, e.question if keep_question else "", e.answer,
           e.finish_reason,
           [e.usage.input_tokens, e.usage.output_tokens, e.usage.cached_input_tokens],
           e.model, e.created, e.expires, e.hits, e.last_hit, e.slot]  # fmt: skip
    # Feedback's mark only when there is one: a daemon rolled back to a version that reads
    # 14 fields still restores every unmarked entry's snapshot.
    if e.wrong_at:
        row.append(e.wrong_at)
    return json.dumps(row, ensure_ascii=False)


def _entry_from_row(row: list[Any]) -> Entry:
    (id_, ns, scope, exact, question, answer, finish, usage, model, created, expires, hits,
     last_hit, slot) = row[:14]  # fmt: skip
    # Rows written before Feedback reached the cache have no 15th field.
    wrong_at = _similarity(row[14]) if len(row) > 14 else 0.0
    return Entry(
        id=str(id_), namespace=str(ns), scope=str(scope), exact=str(exact),
        question=str(question), answer=str(answer), finish_reason=str(finish),
        usage=Usage(int(usage[0]), int(usage[1]), int(usage[2])), model=str(model),
        created=float(created), expires=float(expires), hits=int(hits),
        last_hit=float(last_hit), slot=int(slot), wrong_at=wrong_at,
    )  # fmt: skip


def _similarity(value: Any) -> float:
    cosine = float(value)
    if not -1.0 <= cosine <= 1.0:  # NaN too
        raise ValueError(f"wrong_at {cosine} is not a cosine")
    return cosine


def _trusted(entry: Entry, now: float) -> bool:
    """Times a Timestamp can carry, an expiry within the TTL bound (jitter and skew allowed).

    Older versions took any TTL over HTTP: an entry expiring in 1e300 s made every Lookup of
    its question fail. Such an entry is dropped on restore; the rest of the snapshot is kept.
    """
    times = (entry.created, entry.expires, entry.last_hit)
    return all(map(trusted_time, times)) and entry.expires <= now + 2 * MAX_TTL_S


class Snapshotter:
    """Writes and restores a cache tier through its public export and import."""

    def __init__(
        self, cache: CacheTier, directory: Path, model_id: str, metrics: Metrics | None = None
    ) -> None:
        self.cache = cache
        self.directory = directory
        self.model_id = model_id
        self.metrics = metrics
        self._lock = asyncio.Lock()

    async def write(self) -> Path:
        """Write a snapshot of the cache as it is now; returns its folder."""
        async with self._lock:
            started = time.perf_counter()
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            name = f"snap-{time.time_ns()}"
            tmp = self.directory / f".{name}.tmp"
            # Owner-only: a snapshot holds answers (and, with the verifier, questions).
            tmp.mkdir(mode=0o700)
            # Entries are encoded on the loop (cheap), vectors saved by the tier (SemanticCache:
            # on the vector thread, after every queued vector change), files in a thread.
            keep = self.cache.keeps_questions
            export = await self.cache.export_snapshot(tmp, lambda e: _entry_row(e, keep))
            rows = export.rows
            groups = [dict(g) for g in export.groups]
            final = await asyncio.to_thread(self._finish, tmp, name, rows, groups, export.dims)
            elapsed = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.snapshot_seconds.observe(elapsed)
            log.info("snapshot_written", path=str(final), entries=len(rows),
                     ms=round(elapsed * 1000, 1))  # fmt: skip
            return final

    def _finish(
        self, tmp: Path, name: str, rows: list[str], groups: list[dict[str, Any]], dims: int
    ) -> Path:
        (tmp / "entries.jsonl").write_text("\n".join(rows), encoding="utf-8")
        files = ["entries.jsonl"] + [f for g in groups for f in g["files"]]
        for f in files:
            with (tmp / f).open("rb+") as fh:
                os.fsync(fh.fileno())
        meta = {
            "format": FORMAT, "version": VERSION, "model_id": self.model_id,
            "dims": dims, "created": time.time(), "entries": len(rows),
            "groups": groups, "sha256": {f: _sha256(tmp / f) for f in files},
        }  # fmt: skip
        meta_path = tmp / "meta.json"
        meta_path.write_text(json.dumps(meta), encoding="utf-8")
        with meta_path.open("rb+") as fh:
            os.fsync(fh.fileno())
        _fsync_dir(tmp)
        final = self.directory / name
        tmp.rename(final)
        current_tmp = self.directory / "CURRENT.tmp"
        current_tmp.write_text(name, encoding="utf-8")
        with current_tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        current_tmp.replace(self.directory / "CURRENT")
        _fsync_dir(self.directory)
        for old in self.directory.iterdir():
            if old.name != name and (old.name.startswith(("snap-", ".snap-"))):
                shutil.rmtree(old, ignore_errors=True)
        return final

    def restore(self) -> int:
        """Load the newest snapshot into the (empty) cache; 0 when there is none or it is bad.

        Runs before the daemon serves, off the event loop.
        """
        current = self.directory / "CURRENT"
        if not current.is_file():
            return 0
        try:
            return self._restore(self.directory / current.read_text(encoding="utf-8").strip())
        except Exception as exc:  # noqa: BLE001 - any damage means: start empty, say why
            # The tier empties itself when its import fails; before it, nothing was loaded.
            log.warning("snapshot_skipped", path=str(self.directory), reason=str(exc)[:300])
            return 0

    def _restore(self, folder: Path) -> int:
        started = time.perf_counter()
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise ValueError(f"format {meta.get('format')!r} v{meta.get('version')} not v{VERSION}")
        # Another embedding model (an upgrade, embedding.precision changed): its vectors mean
        # nothing to this one, but the answers and their exact keys do. The exact layer is
        # restored, the semantic layer refills as questions are stored again.
        same_model = meta.get("model_id") == self.model_id
        if not same_model:
            log.warning(
                "snapshot_vectors_dropped", path=str(folder), made_with=meta.get("model_id"),
                loaded=self.model_id, reason="another embedding model: exact layer restored only",
            )  # fmt: skip
        for f, digest in meta["sha256"].items():
            if _sha256(folder / f) != digest:
                raise ValueError(f"{f}: checksum mismatch (truncated or corrupted)")
        now = self.cache.clock()
        entries: list[Entry] = []
        discard: list[Entry] = []
        text = (folder / "entries.jsonl").read_text(encoding="utf-8")
        for line in text.splitlines():
            entry = _entry_from_row(json.loads(line))
            if not same_model:
                entry.slot = -1
            (entries if _trusted(entry, now) else discard).append(entry)
        groups = meta["groups"] if same_model else []
        restored = self.cache.import_snapshot(folder, groups, entries, discard=discard)
        untrusted = len(discard)
        if untrusted:
            log.warning(
                "snapshot_entries_skipped", path=str(folder), entries=untrusted,
                reason="a time not finite or out of range, or an expiry past twice the TTL bound",
            )  # fmt: skip
        log.info("snapshot_restored", path=str(folder), entries=restored,
                 ms=round((time.perf_counter() - started) * 1000, 1))  # fmt: skip
        return restored
