# %% [markdown]
# # The domains
#
# The bundled corpus has seven domains built from license-clean registry packages (see
# `data/corpus/LICENSES.md`). Each is cut into 1000-character blocks; the train/validation split
# is decided per 16,000-character unit by a seeded hash, so neighbouring text never straddles it.
# Tokens are UTF-8 bytes: a loss in nats per token is a loss per byte, comparable across domains.

# %% tags=["parameters"]
scale = "small"
source = None          # None: the bundled corpus; or a folder of domains, or a RedPajama .jsonl file

# %%
import numpy as np

from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.data.store import cached_store
from autoscale_kit.core import fmt
from autoscale_kit.study.pipeline import scale_from_env
from autoscale_kit.present.plots import weight_bars_plotly
from autoscale_kit.present.widgets import DomainPicker
from autoscale_kit.runs.store import CorpusRef, corpus_fingerprint

scale = scale_from_env(scale)
corpus = corpus_mod.load(source)
fmt.frame(corpus_mod.statistics(corpus), {"documents": "{:,}".format, "blocks": "{:,}".format,
                                          "characters": fmt.tokens, "tokens": fmt.tokens},
          caption="tokens are UTF-8 bytes")

# %% [markdown]
# ## Pick domains
# The picker drives the table next to it; `picker.domains` is the choice, for the cells below.

# %%
picker = DomainPicker(corpus)
picker.widget

# %% [markdown]
# ## What the text looks like
# One validation block from each chosen domain (the first 400 characters).

# %%
rng = np.random.default_rng(0)
for d in picker.domains:
    blocks = corpus[d].blocks("val")
    i = int(rng.integers(len(blocks)))
    print(f"=== {d} (block {i + 1:,} of {len(blocks):,}) ===")
    print(blocks[i][:400].strip(), "\n")

# %% [markdown]
# ## Sizes and bytes per character
# Code and English prose are nearly one byte per character; text with more non-ASCII characters
# takes more bytes, so more tokens, per block.

# %%
stats = corpus_mod.statistics(corpus.select(picker.domains))
train = stats[stats.split == "train"].set_index("domain")
fig = weight_bars_plotly({"share of training tokens": (train.tokens / train.tokens.sum()).to_dict()},
                         title="How the corpus divides (share of training tokens)")
fig

# %%
(train.tokens / train.characters).rename("bytes per character").round(3)

# %% [markdown]
# ## The corpus as a token store
# A corpus larger than memory is tokenised once into per-domain token files that every run reads
# through memory maps (`autoscale-kit tokenize SOURCE`, or `--token-store` on `train`, `demo` and
# `landscape run`); it is kept in a cache and found again by the source's fingerprint. The bundled
# corpus through a store is the same data token for token: the same fingerprint, so the same run keys.

# %%
token_store = cached_store(source, progress=False)
fmt.frame(token_store.table(), {"documents": "{:,}".format, "train tokens": fmt.tokens, "val tokens": fmt.tokens},
          caption=f"token store {token_store.path.name} ({token_store.manifest['tokenizer']['dtype']} token files)")

# %%
if source is None:
    same = token_store.fingerprint(None) == corpus_fingerprint(CorpusRef())
    print("the store holds the same data as the corpus in memory:", same)
else:
    print("a folder read through a store keeps each file's documents in file order: its runs have keys of their own")
