"""driftline's package: the pure core and everything around it (see the README's "The code").

``settings`` (one frozen object from the environment) and ``errors`` (what a user sees as one
line and an exit code) sit at the top; each subpackage holds one concern.
"""

__version__ = "0.1.0"
