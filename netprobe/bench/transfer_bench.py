"""``bench transfer``: the tutorial's scenario, many clients each getting a file and putting it back."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import tempfile
from typing import Optional

from netprobe.bench import Announce, say
from netprobe.bench.messages import TransferLoadResult, TransferLoadSpec
from netprobe.children import run_python
from netprobe.errors import ChildFailed, ServerGone, UsageError
from netprobe.hostinfo import platform_info
from netprobe.models import BenchTransferResult
from netprobe.servers.process import ChildServer
from netprobe.servers.registry import BackendSpec
from netprobe.servers.spec import ServerSpec
from netprobe.stats import percentile
from netprobe.vocabulary import ProtocolName

DEFAULT_FILE_SIZE = 256 * 1024
MAX_FILE_SIZE = 1024 * 1024 * 1024
MAX_CLIENTS = 10_000
# The share of the free disk space a run may fill with uploads.
DISK_SHARE = 0.5
SERVED_NAME = "lyrics.bin"  # the tutorial served 歌词.txt ("lyrics")


def make_file(directory: str, size: int, seed: int = 7) -> tuple[str, bytes]:
    """Write ``size`` reproducible pseudo-random bytes; return the path and their sha256."""
    data = random.Random(seed).randbytes(size)
    path = os.path.join(directory, SERVED_NAME)
    with open(path, "wb") as f:
        f.write(data)
    return path, hashlib.sha256(data).digest()


def _corrupt_on_disk(root: str, clients: int, sha: bytes) -> int:
    """Uploads the server stored that differ from what was sent: what it stored must be what it got."""
    corrupt = 0
    for i in range(clients):
        path = os.path.join(root, f"upload-{i}.bin")
        if os.path.exists(path):
            with open(path, "rb") as f:
                if hashlib.sha256(f.read()).digest() != sha:
                    corrupt += 1
    return corrupt


def run_bench_transfer(backend: BackendSpec, clients: int, file_size: int = DEFAULT_FILE_SIZE,
                       source: str | None = None, announce: Optional[Announce] = None) -> BenchTransferResult:
    """Serve one file from a fresh root; every client gets it, checks it, and puts it back."""
    if not 0 < clients <= MAX_CLIENTS:
        raise UsageError(f"--clients must be 1-{MAX_CLIENTS:,}, got {clients}")
    if source is not None:
        if not os.path.isfile(source):
            raise UsageError(f"--file {source!r} is not a file")
        file_size = os.path.getsize(source)
    if not 0 < file_size <= MAX_FILE_SIZE:
        raise UsageError(f"--file-size must be 1-{MAX_FILE_SIZE:,} bytes, got {file_size:,}")
    # Every client puts the file back: the server's root must hold one copy per client.
    need = file_size * (clients + 1)
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if need > free * DISK_SHARE:
        raise UsageError(f"{clients:,} uploads of {file_size:,} bytes need {need:,} bytes in "
                         f"{tempfile.gettempdir()}, which has {free:,} free")
    say(announce, f"{clients:,} clients get and put {file_size:,} bytes on the {backend.name} backend")
    root = tempfile.mkdtemp(prefix="netprobe-transfer-")
    server = None
    try:
        if source is None:
            _, sha = make_file(root, file_size)
        else:
            shutil.copyfile(source, os.path.join(root, SERVED_NAME))
            with open(source, "rb") as f:
                sha = hashlib.sha256(f.read()).digest()
            file_size = os.path.getsize(source)
        server = ChildServer(ServerSpec(backend=backend, protocol=ProtocolName.FILE, root=root,
                                        max_file_size=max(file_size, 1), want_fds=2 * clients + 64))
        host, port = server.addresses[0]
        proc = run_python("netprobe.bench.transfer_client", "the transfer client",
                          TransferLoadSpec(host, port, clients, SERVED_NAME, sha.hex()).to_json(), 120 + clients)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise ChildFailed(f"the transfer client failed: {tail}")
        out = TransferLoadResult.from_json(proc.stdout.strip().splitlines()[-1], "the transfer client's result")
        corrupt_on_disk = _corrupt_on_disk(root, clients, sha)
        leftovers = [n for n in os.listdir(root) if n.startswith(".netprobe-upload-")]
        errors = out.errors + ([f"{len(leftovers)} temporary upload files left"] if leftovers else [])
    except ServerGone as exc:
        raise ChildFailed(f"the {backend.name} server failed: {exc}") from None
    finally:
        if server is not None:
            server.close()
        shutil.rmtree(root, ignore_errors=True)
    ordered = sorted(out.latencies)
    return BenchTransferResult(
        backend=backend.name, clients=clients, file_size=file_size,
        completed=out.completed - corrupt_on_disk, failed=out.failed + len(leftovers),
        corrupt=out.corrupt + corrupt_on_disk, seconds=round(out.seconds, 3),
        mib_per_s=round(out.bytes / (1024 * 1024) / out.seconds, 2) if out.seconds > 0 else None,
        p50_ms=percentile(ordered, 0.5), p90_ms=percentile(ordered, 0.9), p99_ms=percentile(ordered, 0.99),
        max_ms=round(ordered[-1], 3) if ordered else None,
        errors=errors, platform=platform_info(),
    )
