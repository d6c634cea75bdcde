"""What a model stage's model did, counted where it happens, for throughput that means
what it says (`python -m pipeline.report`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class WorkStats:
    segments_sent: int = 0  # pieces handed to the model (the rest: from the memory)
    memory_hits: int = 0  # unique texts taken from the translation memory
    generated_tokens: int = 0
    generate_s: float = 0.0  # seconds generating, loading excluded
    # Seconds loading the model; None: not here, on an executor's workers.
    load_s: float | None = 0.0
    oom_retries: int = 0  # batches halved after the device ran out of memory

    def work_record(self) -> dict[str, Any]:
        """The manifest's record of the model's own work."""
        return {
            "generated_tokens": self.generated_tokens,
            "generate_s": round(self.generate_s, 3),
            "load_s": None if self.load_s is None else round(self.load_s, 3),
        }
