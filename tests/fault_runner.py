"""`python tests/fault_runner.py <pipeline overrides>`: the real command line with a fault
injected, for tests/test_faults.py. Nothing here is part of the product.

PIPELINE_FAULT="<folder>:<n>:<when>" kills this process with SIGKILL at the n-th atomic
file write (1-based) into `<output.dir>/<folder>` (`.` for output.dir itself), `before` its
rename (the temporary file is complete, the target untouched) or `after` it. Every file the
pipeline writes goes through `os.replace` (pipeline.core.io.write_atomic), so patching it reaches
every writer, however it imported write_atomic.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path


def _install(spec: str, output_dir: Path) -> None:
    folder, n, when = spec.split(":")
    watched = (output_dir / folder).resolve()
    real_replace = os.replace
    seen = 0

    def replace(src: str, dst: str, *args: object, **kwargs: object) -> None:
        nonlocal seen
        if Path(dst).resolve().parent == watched:
            seen += 1
            if seen == int(n) and when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(src, dst, *args, **kwargs)  # type: ignore[arg-type]
            if seen == int(n) and when == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            return
        real_replace(src, dst, *args, **kwargs)  # type: ignore[arg-type]

    os.replace = replace  # type: ignore[assignment]


if __name__ == "__main__":
    output = next(arg.split("=", 1)[1] for arg in sys.argv[1:] if arg.startswith("output.dir="))
    if os.environ.get("PIPELINE_FAULT"):
        _install(os.environ["PIPELINE_FAULT"], Path(output))
    import runpy

    runpy.run_module("pipeline", run_name="__main__", alter_sys=True)  # python -m pipeline
