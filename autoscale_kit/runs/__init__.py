"""The run seam: a run's identity (`RunSpec`), its typed record (`RunRecord`), the on-disk store, and
`train_runs`, the one route by which any run, whoever asks for it, is trained."""
