"""Live Canvas: sketch on the left, a one-step diffusion model repaints it on the right."""

__version__ = "0.1.0"
