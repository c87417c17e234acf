"""``netprobe ramp``: open real connections step by step and explain where they break."""

from netprobe.ramp.config import RampConfig, validate  # noqa: F401
from netprobe.ramp.plan import RampPlan  # noqa: F401
from netprobe.ramp.runner import run_ramp  # noqa: F401
