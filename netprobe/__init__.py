"""netprobe: what this machine can hold, where connections really break, and why."""

__version__ = "0.3.0"
