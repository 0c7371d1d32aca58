"""damer_core package."""
