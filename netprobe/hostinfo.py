"""Which OS, machine and Python a result was measured on."""

from __future__ import annotations

import platform as _stdlib_platform
import sys

from netprobe import platform
from netprobe.common_records import PlatformInfo


def platform_info() -> PlatformInfo:
    """Describe the OS and Python this runs on."""
    uname = _stdlib_platform.uname()
    return PlatformInfo(
        system=uname.system,
        release=uname.release,
        machine=uname.machine,
        python=_stdlib_platform.python_version(),
        implementation=sys.implementation.name,
        compatibility_layer=platform.compatibility_layer(),
    )
