"""Studies: `StudyConfig` and its named scales, `run_study` (every method validated at the target),
the shipped studies, method comparisons and the landscape arena."""
