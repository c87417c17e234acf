"""Client models that open, check and drive connections for ``ramp`` and ``bench echo``.

The registry (``netprobe.clients.registry``) names them; ``netprobe.clients.base`` holds what
they share. Nothing is imported here, so building the CLI's choices costs no socket code.
"""
