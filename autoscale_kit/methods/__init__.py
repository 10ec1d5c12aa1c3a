"""The method seam: `Method(probes, choose)` and its registry, the labs that answer probes (proxy runs,
an oracle), DDO rounds with verification, and the peer methods."""
