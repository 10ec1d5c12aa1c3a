"""The ground floor: what every seam shares. The one user error, mixtures in whole tokens, the objective
(parsed once), the runs/optima CSV formats, the number format for people, the bootstrap and the disk memo.
Nothing here imports another seam."""
