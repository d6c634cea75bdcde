"""The bundles of a run's output folder, read when first needed, to check a reviewed file
against: by release, by segment id, by German source text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.approvals.apply import approval_key
from pipeline.core.data import SOURCE_LANG


class RunBundles:
    """The bundles of one output folder, read when first needed."""

    def __init__(self, output_dir: Path | None) -> None:
        self.output_dir = output_dir
        self._bundles: dict[str, dict[str, Any] | None] = {}
        self._by_source: dict[str, dict[str, Any]] | None = None

    def bundle(self, release_id: str) -> dict[str, Any] | None:
        if self.output_dir is None:
            return None
        if release_id not in self._bundles:
            path = self.output_dir / "bundles" / f"{release_id}.json"
            try:
                ok = path.parent.resolve() == (self.output_dir / "bundles").resolve()
                self._bundles[release_id] = json.loads(path.read_text("utf-8")) if ok else None
            except (OSError, ValueError):
                self._bundles[release_id] = None
        return self._bundles[release_id]

    def segment(self, segment_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(bundle, segment) of a segment id `<release id>:<index>`."""
        release_id, _, index = segment_id.rpartition(":")
        bundle = self.bundle(release_id) if index.isdigit() else None
        if bundle is None:
            return None
        for segment in bundle.get("segments") or []:
            if segment.get("id") == segment_id:
                return bundle, segment
        return None

    def by_source(self, key: str) -> dict[str, Any] | None:
        """A segment whose German text has this `approval_key` (the first found)."""
        if self._by_source is None:
            self._by_source = {}
            folder = self.output_dir / "bundles" if self.output_dir else None
            for path in sorted(folder.glob("*.json")) if folder and folder.is_dir() else []:
                bundle = self.bundle(path.stem)
                segments: list[dict[str, Any]] = (bundle or {}).get("segments") or []
                for segment in segments:
                    german = approval_key(segment["text"].get(SOURCE_LANG, ""))
                    self._by_source.setdefault(german, {**segment, "_release": path.stem})
        return self._by_source.get(key)
