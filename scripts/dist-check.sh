#!/usr/bin/env bash
# Proves the release build is reproducible: builds VERSION twice, into two
# directories, from two exports of the commit, under a different time zone,
# umask and locale, and compares SHA256SUMS.
#
#   scripts/dist-check.sh VERSION      (make dist-check VERSION=1.2.3)
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${1:?usage: scripts/dist-check.sh VERSION}

# One commit for both builds, whatever lands on the branch meanwhile.
export DIST_REV=$(git rev-parse "${DIST_REV:-HEAD}")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

DIST_DIR=$TMP/a scripts/dist.sh "$VERSION" >"$TMP/a.log"
(umask 077 && TZ=Pacific/Kiritimati LC_ALL=C.UTF-8 DIST_DIR=$TMP/b scripts/dist.sh "$VERSION" >"$TMP/b.log")

if cmp -s "$TMP/a/SHA256SUMS" "$TMP/b/SHA256SUMS"; then
	echo "dist-check: reproducible: $(wc -l <"$TMP/a/SHA256SUMS") artifacts of $DIST_REV, identical in both builds"
	cat "$TMP/a/SHA256SUMS"
	exit 0
fi
echo "dist-check: NOT reproducible: these artifacts differ" >&2
diff "$TMP/a/SHA256SUMS" "$TMP/b/SHA256SUMS" >&2 || true
exit 1
