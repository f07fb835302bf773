#!/usr/bin/env bash
# Restores the 22 int8 models the shipped ones were chosen among (under their names of that commit),
# from git history, into
# runs/candidates/ (ignored by git), checked against the SHA-256 that docs/models.md lists, so that
# scripts/choose_models.py can score them again. Never overwrites a file.
#   scripts/fetch_candidates.sh            # every candidate
set -euo pipefail
cd "$(dirname "$0")/.."
COMMIT=${CANDIDATES_COMMIT:-f1f7886}   # the last commit whose tree held candidates/
dest=runs/candidates
mkdir -p "$dest"
table=docs/candidates.sha256
[ -f "$table" ] || { echo "fetch_candidates: $table is missing" >&2; exit 1; }
while read -r sum path; do
  name=$(basename "$path")
  out="$dest/$name"
  if [ -e "$out" ]; then echo "fetch_candidates: $out exists, kept" >&2; continue; fi
  git show "$COMMIT:$path" > "$out.tmp" || { rm -f "$out.tmp"; echo "fetch_candidates: $path is not in $COMMIT" >&2; exit 1; }
  got=$(sha256sum "$out.tmp" | cut -c1-64)
  if [ "$got" != "$sum" ]; then rm -f "$out.tmp"; echo "fetch_candidates: $name: SHA-256 $got, expected $sum" >&2; exit 1; fi
  mv "$out.tmp" "$out"
  echo "$out"
done < "$table"
