"""The proxy seam: `ProxyConfig`, the training loop and the evaluator, and the model families
(`proxy.families`: one module per family, each carrying its own traits)."""
