"""The fitting seam: per-domain power laws, DDO and its surrogate forms (`fit.forms`), the AutoScale
predictor, the bootstrap intervals, the landscape's smooth surfaces and the peers' regressors.
Pure numbers: nothing here trains."""
