"""The data seam: domains of text (bundled, folders, JSONL, Hugging Face), their tokenizers, token streams,
fixed validation windows and the exact-token training plan."""
