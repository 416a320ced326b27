"""Inference only: turns (sketch, prompt, settings) into images. Imports torch and diffusers,
never Qt. Import the submodules directly (``engine.loading``, ``engine.renderer``)."""
