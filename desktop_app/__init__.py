"""Live Canvas: sketch on the left, a one-step diffusion model repaints it on the right."""

__version__ = "0.1.0"

import os as _os

# torch's OpenMP threads spin while they wait for work; on a 2-core laptop that spinning
# competes with the UI thread and with the next frame (measured: a tiny 512 frame took 6.6 s
# instead of 0.42 s with another busy process). Passive waiting costs nothing measurable.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
