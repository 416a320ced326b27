"""``live-canvas bench``: the engine timed against the stock diffusers pipeline on the same
weights, and the instruments it uses. Not imported by the app."""
