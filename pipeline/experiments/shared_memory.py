"""A check over a sweep: jobs that shared a translation memory with different decoding
settings but recorded the same memory key (so one could have served the other's outputs).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.experiments.jobs import as_dict, read_jobs

# --- jobs that shared cached outputs ------------------------------------------------------------

# Settings that change a translation (besides the model): jobs that differ in one of them
# must never take each other's outputs from a shared translation memory.
DECODING_KEYS = (
    "translate.num_beams",
    "translate.max_new_tokens",
    "translate.max_length_factor",
    "translate.engine",
    "engine.transformers.dtype",
    "engine.ctranslate2.compute_type",
)


def memory_warnings(sweep_dir: Path) -> list[str]:
    """Pairs of jobs that used one translation memory with different decoding settings
    but recorded the same memory key for a model (so one could have served the other's
    outputs). The key holds those settings, so this finds a bug, not a normal sweep."""
    jobs = [job for job in read_jobs(Path(sweep_dir)) if job.manifest]
    warnings = []
    for index, first in enumerate(jobs):
        for second in jobs[index + 1 :]:
            memory = first.config.get("translate.memory")
            if not memory or memory != second.config.get("translate.memory"):
                continue
            differ = [k for k in DECODING_KEYS if first.setting(k) != second.setting(k)]
            if not differ:
                continue
            first_models = as_dict(first.manifest.get("models"))
            second_models = as_dict(second.manifest.get("models"))
            for name, record in first_models.items():
                if name.startswith("translate.") and record == second_models.get(name):
                    warnings.append(
                        f"jobs {first.name} and {second.name} differ in {', '.join(differ)} "
                        f"but recorded the same translation-memory key for {name}; their "
                        "outputs may have been shared: isolate the jobs' memories "
                        "(translate.memory='${output.dir}/translation-memory.sqlite') and "
                        "report this as a bug"
                    )
    return warnings
