"""What every layer shares: a frame's request and result types, the errors whose messages a
user reads, the one table of settings, and PNG files that carry their parameters.
numpy and Pillow only: no torch, no Qt."""
