"""Run netprobe as if on Windows or macOS: the simulated-platform lane (docs/platforms.md says what it proves).

    python tests/simulated/shim.py windows|darwin BINDIR import|limits|collect

Before netprobe is imported: the modules that OS lacks are made unimportable and select()'s
mechanisms it lacks removed (so ``selectors`` picks what that OS would), ``sys.platform`` is set,
and BINDIR, holding ``netsh``, ``sysctl`` and ``launchctl`` that print recorded real output, is
put first on PATH. The standard library and third-party modules that read the OS when they
are imported (subprocess, asyncio, psutil, pytest) are imported first, as the real Linux
modules they are: what runs is netprobe's code for that OS, on Linux's kernel.
"""

from __future__ import annotations

import importlib.util
import os
import sys

SHAPES = {
    # sys.platform, modules that OS has not, select() mechanisms that OS has not
    "windows": ("win32", ("resource", "fcntl", "termios", "pty", "grp", "pwd"),
                ("poll", "epoll", "devpoll", "kqueue")),
    "darwin": ("darwin", (), ("epoll", "devpoll")),
}


def _shape(name: str, bindir: str) -> None:
    platform_name, missing_modules, missing_select = SHAPES[name]
    import select

    for attr in missing_select:
        if hasattr(select, attr):
            delattr(select, attr)
    # Imported as the Linux modules they are, before the platform changes under them.
    import asyncio  # noqa: F401
    import selectors  # noqa: F401  (now without the mechanisms removed above)
    import subprocess  # noqa: F401
    import sysconfig
    import tempfile  # noqa: F401

    sysconfig.get_config_vars()  # cached now: it would look for the other OS's build data later

    import psutil
    import pytest  # noqa: F401
    import rich  # noqa: F401
    import tabulate  # noqa: F401
    import typer  # noqa: F401

    if importlib.util.find_spec("locust") is not None:
        # The dist extra (netprobe/distributed/transport.py imports it): its HTTP client reads Windows'
        # WSA error names from errno when it is imported. Never patched, as netprobe imports it.
        os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
        import locust.runners  # noqa: F401

    if name == "windows" and not hasattr(psutil.Process, "num_handles"):
        # The one psutil call that differs per OS, served the way Windows would (a count of handles).
        psutil.Process.num_handles = psutil.Process.num_fds  # type: ignore[attr-defined]
    for module in missing_modules:
        sys.modules[module] = None  # type: ignore[assignment]  # "import resource" raises ImportError
    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    sys.platform = platform_name


def _import_everything() -> int:
    import importlib
    import pkgutil

    import netprobe

    names = [m.name for m in pkgutil.walk_packages(netprobe.__path__, "netprobe.")]
    for name in names:
        importlib.import_module(name)
    print(f"imported {len(names)} netprobe modules as {sys.platform}")
    return 0


def main(argv: list[str]) -> int:
    shape, bindir, action = argv[:3]
    _shape(shape, bindir)
    if action == "import":
        return _import_everything()
    if action == "limits":
        from netprobe.cli import run

        return run(["limits", "--format", "json"])
    if action == "collect":
        import pytest

        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        sys.path.insert(0, root)  # as `python -m pytest` from the root puts it there
        # --capture=sys: pytest's fd capture has a Windows-console path that needs a real Windows io module.
        tests = os.path.join(root, "tests")
        return pytest.main(["--collect-only", "-q", "--capture=sys", "-p", "no:cacheprovider", tests])
    raise SystemExit(f"unknown action {action!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
