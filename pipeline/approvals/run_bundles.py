"""The bundles of a run's output folder, read when first needed, to check a reviewed file
against: by release, by segment id, by German source text.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.approvals.apply import approval_key
from pipeline.core.bundles import read_bundle
from pipeline.core.data import SOURCE_LANG, Bundle, Segment


class RunBundles:
    """The bundles of one output folder, read when first needed."""

    def __init__(self, output_dir: Path | None) -> None:
        self.output_dir = output_dir
        self._bundles: dict[str, Bundle | None] = {}
        self._by_source: dict[str, tuple[str, Segment]] | None = None

    def bundle(self, release_id: str) -> Bundle | None:
        """The bundle of a release, its segments in memory (a reviewed file is checked
        against them unit by unit); None where there is none, or none that can be read."""
        if self.output_dir is None:
            return None
        if release_id not in self._bundles:
            path = self.output_dir / "bundles" / f"{release_id}.json"
            try:
                ok = path.parent.resolve() == (self.output_dir / "bundles").resolve()
                bundle = read_bundle(path) if ok else None
                if bundle is not None:
                    bundle.segments = list(bundle.segments)
            except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError):
                bundle = None
            self._bundles[release_id] = bundle
        return self._bundles[release_id]

    def segment(self, segment_id: str) -> tuple[Bundle, Segment] | None:
        """(bundle, segment) of a segment id `<release id>:<index>`."""
        release_id, _, index = segment_id.rpartition(":")
        bundle = self.bundle(release_id) if index.isdigit() else None
        if bundle is None:
            return None
        for segment in bundle.segments:
            if segment.id == segment_id:
                return bundle, segment
        return None

    def by_source(self, key: str) -> tuple[str, Segment] | None:
        """(release id, segment) of a segment whose German text has this `approval_key`
        (the first found)."""
        if self._by_source is None:
            self._by_source = {}
            folder = self.output_dir / "bundles" if self.output_dir else None
            for path in sorted(folder.glob("*.json")) if folder and folder.is_dir() else []:
                bundle = self.bundle(path.stem)
                for segment in bundle.segments if bundle else []:
                    german = approval_key(segment.text.get(SOURCE_LANG, ""))
                    self._by_source.setdefault(german, (path.stem, segment))
        return self._by_source.get(key)
