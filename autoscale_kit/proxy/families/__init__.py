"""Model families: the `ModelFamily` protocol and its registry (`base`), one module per family."""
