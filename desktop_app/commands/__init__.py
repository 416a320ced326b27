"""Sub-commands of ``live-canvas``: each module has ``add_parser(subparsers)`` and ``run(args)``."""
