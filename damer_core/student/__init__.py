"""A causal student of musicnn: its embedding from the front-end's own log-Mel, at a tenth of the cost."""
