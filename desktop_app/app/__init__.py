"""The app layer: observable state, the render worker and the controller that joins them.

Qt is allowed here; torch is not imported at module level (the worker loads the engine lazily,
inside its own thread).
"""
