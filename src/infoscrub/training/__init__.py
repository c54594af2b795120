"""Training machinery shared by Stage I, Stage II, the adversary and the baselines."""
