"""Server backends, one small class each behind one interface (``base.ServerBase``).

``netprobe.servers.registry`` names them and ``netprobe.servers.spec`` says how to start one;
nothing is imported here, so a command pays only for the backend it runs.
"""
