"""Widgets. They hold no generation state: they bind to ``desktop_app.app.state.LiveState``.

Never imports torch, diffusers or transformers (checked by import-linter).
"""
