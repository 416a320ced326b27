"""``live-canvas serve``: the engine behind HTTP on Ray Serve, for clients elsewhere.

``service`` is one replica's work without Ray (checks, decoding, the engine, encoding);
``deployment`` wraps it as a Ray Serve deployment; ``launch`` starts Ray and Serve and
deploys it. Ray is an optional extra (``pip install -e ".[serve]"``): only ``deployment``
and ``launch`` import it, and only when a server is started. Never Qt.
"""
