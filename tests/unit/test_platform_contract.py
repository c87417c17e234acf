"""The platform contract, as psutil's test_contracts checks its own: every OS module offers the same API.

netprobe.platform binds each name of CONTRACT from the module of the OS it runs on; every
other OS module must define the same name with the same signature, or a user there meets an
AttributeError or a TypeError that no test on this machine would have shown.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

from netprobe import platform

OS_MODULES = ("_linux", "_darwin", "_windows", "_posix")


def _module(name: str):
    return importlib.import_module(f"netprobe.platform.{name}")


@pytest.mark.parametrize("name", OS_MODULES)
def test_every_os_module_imports_here(name):
    assert _module(name).HAS_RLIMIT in (True, False)
    assert _module(name).SELECT_COUNTS_SOCKETS in (True, False)


@pytest.mark.parametrize("function", platform.CONTRACT)
def test_every_os_module_offers_the_same_signature(function):
    signatures = {name: str(inspect.signature(getattr(_module(name), function))) for name in OS_MODULES
                  if hasattr(_module(name), function)}
    missing = [name for name in OS_MODULES if not hasattr(_module(name), function)]
    assert not missing, f"{function} is missing from {missing}"
    assert len(set(signatures.values())) == 1, signatures


def test_the_public_module_binds_exactly_the_contract():
    bound = {name for name, value in vars(platform).items()
             if not name.startswith("_") and callable(value) and not inspect.isclass(value)}
    assert bound == set(platform.CONTRACT) | set(platform.SHARED)


def test_platform_errors_name_no_command_line_option():
    """The platform layer says what the OS refuses; the CLI words it with its own flags."""
    errors = [platform.Unsupported("Windows has no RLIMIT_NOFILE to set"), platform.AboveHardLimit(9, 8)]
    assert all("--" not in str(e) for e in errors)
    windows = _module("_windows")
    with pytest.raises(platform.Unsupported) as caught:
        windows.check_soft_fd_limit(256)
    assert "--" not in str(caught.value)
