"""The session timelapse: ``recorder`` (every frame shown, appended off the UI thread),
``spool`` (the segment files on disk that survive a crash), ``export`` (the film: MP4 through
PyAV, or animated WebP through ``webp``) and ``exporter`` (an export on its own thread)."""
