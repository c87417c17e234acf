"""Fetch a URL with one concurrency model, in a process of its own; print what it took as one record.

Run as ``python -m netprobe.bench.models_child`` with a ``ModelsSpec`` as its line of input; it
prints a ``ModelsChildResult``. The gevent model monkey-patches this child, and only this child,
before anything but the spec's record is imported (that imports neither threading nor socket):
the tutorial's experiment, kept away from the process that runs netprobe.

Each model is one function in ``FETCH_MODELS``: a new one is a function and its entry, and
``bench models`` (its ``--models`` choices and its default list) reads them from there.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NamedTuple

from netprobe.errors import ExitStatus

Fetch = Callable[[int], int]  # fetch task i with urlopen; the body's size
NoteLoad = Callable[[], None]  # note the process's busiest moment so far


def _sequential(fetch: Fetch, tasks: int, note_load: NoteLoad, url: str) -> list[int]:
    sizes = []
    for i in range(tasks):
        sizes.append(fetch(i))
        note_load()
    return sizes


def _threads(fetch: Fetch, tasks: int, note_load: NoteLoad, url: str) -> list[int]:
    import threading

    sizes = [0] * tasks

    def run(i: int) -> None:
        sizes[i] = fetch(i)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(tasks)]
    for w in workers:
        w.start()
    note_load()
    for w in workers:
        w.join()
    return sizes


def _gevent(fetch: Fetch, tasks: int, note_load: NoteLoad, url: str) -> list[int]:
    import gevent

    jobs = [gevent.spawn(fetch, i) for i in range(tasks)]
    gevent.sleep(0)
    note_load()
    gevent.joinall(jobs, raise_error=True)
    return [j.value for j in jobs]


def _asyncio(fetch: Fetch, tasks: int, note_load: NoteLoad, url: str) -> list[int]:
    """The asyncio model fetches with its own streams, not urlopen."""
    import asyncio
    from urllib.parse import urlsplit

    parts = urlsplit(url)

    async def afetch(_: int) -> int:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(f"GET {parts.path or '/'} HTTP/1.0\r\nHost: {parts.hostname}\r\n\r\n".encode())
        await writer.drain()
        body = await reader.read()
        writer.close()
        await writer.wait_closed()
        return len(body.split(b"\r\n\r\n", 1)[-1])

    async def all_of_them() -> list[int]:
        futures = [asyncio.ensure_future(afetch(i)) for i in range(tasks)]
        await asyncio.sleep(0)
        note_load()
        return await asyncio.gather(*futures)

    return asyncio.run(all_of_them())


class FetchModel(NamedTuple):
    """One concurrency model of the experiment: how it runs its tasks, and what it needs first."""

    run: Callable[[Fetch, int, NoteLoad, str], list[int]]
    patches: bool = False  # monkey-patches the process before anything else is imported
    uses_urlopen: bool = True  # else it brings its own client: only its modules are imported before the clock
    preload: tuple[str, ...] = ()


FETCH_MODELS: dict[str, FetchModel] = {
    "sequential": FetchModel(_sequential),
    "threads": FetchModel(_threads),
    "gevent": FetchModel(_gevent, patches=True),
    "asyncio": FetchModel(_asyncio, uses_urlopen=False, preload=("asyncio",)),
}


def main() -> int:
    """Fetch the URL with one model in this fresh process and print what it took."""
    from netprobe.bench.messages import ModelsChildResult, ModelsSpec

    spec = ModelsSpec.from_json(sys.stdin.readline(), "the model's spec")
    model, url, tasks = spec.model, spec.url, spec.tasks
    if model not in FETCH_MODELS:
        raise SystemExit(f"unknown model {model!r}")
    chosen = FETCH_MODELS[model]
    if chosen.patches:
        from gevent import monkey

        monkey.patch_all()
    import threading
    import time
    import urllib.request

    import psutil

    busiest = {"threads": threading.active_count(), "rss": 0}
    me = psutil.Process()

    def note_load() -> None:
        busiest["threads"] = max(busiest["threads"], me.num_threads())
        busiest["rss"] = max(busiest["rss"], me.memory_info().rss)

    def fetch(_: int) -> int:
        with urllib.request.urlopen(url, timeout=60) as response:
            return len(response.read())

    # Start-up happens before the clock starts. urlopen's first call builds its opener, which
    # imports http.client and ssl, and gevent's first lookup starts its resolver's thread: where
    # that is slow (Windows under Wine: 0.6 s and 0.2 s) the first fetch, and threads queued on the
    # import lock, would time start-up, not the waiting the experiment is about.
    import importlib

    for module in chosen.preload:
        importlib.import_module(module)
    if chosen.uses_urlopen:
        import socket
        from urllib.parse import urlsplit

        urllib.request.install_opener(urllib.request.build_opener())
        socket.getaddrinfo(urlsplit(url).hostname, None)
    start = time.perf_counter()
    sizes = chosen.run(fetch, tasks, note_load, url)
    seconds = time.perf_counter() - start
    note_load()
    print(ModelsChildResult(seconds, sum(1 for s in sizes if s > 0), busiest["rss"], busiest["threads"]).to_json())
    return ExitStatus.SUCCESS


if __name__ == "__main__":
    from netprobe.children import run_child

    run_child(main)
