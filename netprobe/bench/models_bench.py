"""The tutorial's sync-versus-async experiment, made local: fetch slow URLs with each model.

A loopback HTTP server answers every request after ``delay`` seconds; each model fetches
``tasks`` of them in a child process of its own, so gevent's monkey-patching and each model's
threads and memory stay apart from netprobe and from each other.
"""

from __future__ import annotations

import http.server
import math
import subprocess
import threading
import time
from typing import Any, Optional

from netprobe.bench import Announce, say
from netprobe.bench.messages import ModelsChildResult, ModelsSpec
from netprobe.bench.models_child import FETCH_MODELS
from netprobe.children import run_python
from netprobe.errors import RecordError, UsageError
from netprobe.hostinfo import platform_info
from netprobe.models import BenchModelsResult, ModelRun

MODELS = tuple(FETCH_MODELS)  # registered in the child's module, which imports nothing at load
BODY = b"netprobe: a slow answer\n" * 8


class _SlowHandler(http.server.BaseHTTPRequestHandler):
    delay = 1.0

    def do_GET(self) -> None:
        time.sleep(self.delay)
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet


class SlowServer:
    """A threaded HTTP server on 127.0.0.1:0 that answers after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        handler = type("Handler", (_SlowHandler,), {"delay": delay})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """The URL every model fetches."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/slow"

    def close(self) -> None:
        """Stop serving and release the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def parse_models(text: str) -> list[str]:
    """The comma-separated models of ``--models``, each checked; UsageError names the first unknown one."""
    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if not names or unknown:
        raise UsageError(f"--models {text!r}: choose from {', '.join(MODELS)}")
    return list(dict.fromkeys(names))


# The experiment shows its point with a handful of slow URLs; these bound typos.
MAX_TASKS = 10_000
MAX_DELAY = 600.0


def check_models_options(tasks: int, delay: float) -> None:
    """Check ``bench models``' numbers; UsageError names the first problem."""
    if not 0 < tasks <= MAX_TASKS:
        raise UsageError(f"--tasks must be 1-{MAX_TASKS:,}, got {tasks}")
    if not math.isfinite(delay) or not 0 <= delay <= MAX_DELAY:
        raise UsageError(f"--delay must be 0-{MAX_DELAY:g} seconds, got {delay}")


def _run_model(model: str, url: str, tasks: int, timeout: float) -> ModelsChildResult:
    proc = run_python("netprobe.bench.models_child", f"the {model} model's process",
                      ModelsSpec(model, url, tasks).to_json(), timeout)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(tail)
    return ModelsChildResult.from_json(proc.stdout.strip().splitlines()[-1], f"the {model} model's result")


def run_bench_models(tasks: int, delay: float, models: list[str],
                     announce: Optional[Announce] = None) -> BenchModelsResult:
    """Run every model against one slow server and compare each with sequential."""
    check_models_options(tasks, delay)
    server = SlowServer(delay)
    raw: dict[str, ModelsChildResult] = {}
    errors: dict[str, str] = {}
    try:
        for model in models:
            say(announce, f"{tasks} slow fetches, {model}")
            try:
                raw[model] = _run_model(model, server.url, tasks, timeout=60 + tasks * delay * 2)
            except (RuntimeError, subprocess.TimeoutExpired, ValueError, RecordError) as exc:
                errors[model] = str(exc)
    finally:
        server.close()
    seconds = {model: round(r.seconds, 3) for model, r in raw.items()}
    sequential: Optional[float] = seconds.get("sequential")
    runs = []
    for model in models:
        if model in errors:
            runs.append(ModelRun(model, None, None, None, None, 0, error=errors[model]))
            continue
        r = raw[model]
        speedup = round(sequential / seconds[model], 2) if sequential and seconds[model] > 0 else None
        runs.append(ModelRun(model, seconds[model], speedup, r.peak_rss, r.threads, r.fetched))
    return BenchModelsResult(tasks, delay, delay, runs, platform_info())
