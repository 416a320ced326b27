"""The client of ``live-canvas serve``: a ``FrameEngine`` whose frames render on a server.

No torch and no Qt: a laptop drawing against a GPU elsewhere needs neither to render. Import
the submodules directly (``remote.engine``, ``remote.address``).
"""
