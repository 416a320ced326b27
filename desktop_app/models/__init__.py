"""Which model to load: presets, what a preset needs from the Hugging Face Hub, what the
cache already holds, and downloads. No torch (the weight precision a device reads is the
engine's to say: ``engine.device.default_variant``), no Qt."""
