"""``netprobe ramp``: open real connections step by step and explain where they break.

``spec`` turns what the user typed into one frozen ``RampSpec``; ``runner`` runs it on this
machine, in rooms of its own (``sampler``, ``budget``, ``forecast``, ``classify``, ``verdict``);
``ceilings`` runs one per backend. Nothing here imports the distributed package.
"""
