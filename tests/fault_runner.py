"""`python tests/fault_runner.py <pipeline overrides>`: the real command line with a fault
injected, for tests/test_faults.py. Nothing here is part of the product.

PIPELINE_FAULT="<folder>:<n>:<when>" kills this process with SIGKILL at the n-th atomic
file write (1-based) into `<output.dir>/<folder>` (`.` for output.dir itself), `before` its
rename (the temporary file is complete, the target untouched) or `after` it. Every file the
pipeline writes goes through `os.replace` (pipeline.core.io.write_atomic), so patching it reaches
every writer, however it imported write_atomic.

`python tests/fault_runner.py --serve`: the same runs, many of them, without paying for the
imports (torch, transformers, Hydra: most of a tiny run's time) each time. The server imports
them once, then reads one request a line on stdin, a JSON object {"args": [overrides],
"fault": spec or null, "stderr": file}, forks a child that runs exactly what
`python tests/fault_runner.py <args>` runs (the child is a process of its own: the fault's
SIGKILL kills it, not the server), and answers with a JSON line {"returncode": n}: the
child's exit code, or minus the signal that ended it, as subprocess reports it. The server
itself starts no threads, so forking it is safe.
"""

from __future__ import annotations

import json
import os
import runpy
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


def run_pipeline(args: list[str]) -> None:
    """`python -m pipeline <args>` in this process, with PIPELINE_FAULT's fault; ends in
    SystemExit with the command's exit code, as the command does."""
    output = next(arg.split("=", 1)[1] for arg in args if arg.startswith("output.dir="))
    if os.environ.get("PIPELINE_FAULT"):
        _install(os.environ["PIPELINE_FAULT"], Path(output))
    sys.argv = [sys.argv[0], *args]
    runpy.run_module("pipeline", run_name="__main__", alter_sys=True)  # python -m pipeline


def serve() -> None:
    # What `python -m pipeline` imports, and what a smoke run then loads.
    import torch  # noqa: F401
    import transformers
    from transformers import AutoTokenizer  # noqa: F401

    import pipeline.cli.main
    import pipeline.run.runner  # noqa: F401

    for name in ("MarianMTModel", "MarianTokenizer", "BartForConditionalGeneration"):
        getattr(transformers, name)  # transformers imports its model modules lazily

    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the child: the run itself; it leaves through SystemExit, not back here
            sys.stdin.close()
            error = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(error, 2)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            os.environ["PIPELINE_FAULT"] = request.get("fault") or ""
            run_pipeline(request["args"])
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        run_pipeline(sys.argv[1:])
