"""Turns (sketch, prompt, settings) into images. Imports torch and diffusers, never Qt.

Import the submodules directly (``engine.loading``, ``engine.types``): this package module
stays empty so that importing the light ones (types, errors, presets) does not pull in torch.
"""
