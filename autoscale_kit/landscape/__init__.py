"""The measured landscape: a grid over the simplex at several budgets, its per-budget fits with
intervals, the cross-budget model and its backtest, and its on-disk form."""
