"""Training rounds for short GPU windows: the compact state, the round, the keep rule."""
