#!/usr/bin/env bash
# Builds the release artifacts of one commit into DIST_DIR (default dist/):
# static binaries, Debian packages, the Windows MSI, a CycloneDX SBOM for
# each of them (ARTIFACT.cdx.json) and SHA256SUMS.
#
#   scripts/dist.sh VERSION        (make dist VERSION=1.2.3)
#
# The source is the committed tree of DIST_REV (default HEAD), exported with
# `git archive`: uncommitted changes never reach a release, and the build
# does not depend on where the tree lies. Every timestamp is the commit's
# (SOURCE_DATE_EPOCH), so two builds of one commit with the same Go
# toolchain give the same bytes (scripts/dist-check.sh proves it).
#
# DIST_ONLY=bin skips the packages; the MSI needs wixl (Debian: wixl,
# msitools) and is skipped, with a warning, when it is missing.
# DIST_PLATFORMS (default: all four) limits the build to some platforms,
# and so to their packages (scripts/package-test.sh builds its upgrade
# for linux/amd64 only).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${1:-}
if ! [[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
	echo "dist: VERSION must be MAJOR.MINOR.PATCH, got \"$VERSION\"" >&2
	echo "hint: make dist VERSION=1.2.3 (Debian and MSI versions are numeric)" >&2
	exit 2
fi
REV=${DIST_REV:-HEAD}
OUT=${DIST_DIR:-dist}
ONLY=${DIST_ONLY:-all}
NFPM=${NFPM:-go run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2}
ROOT=$PWD

SOURCE_DATE_EPOCH=$(git log -1 --format=%ct "$REV")
COMMIT=$(git rev-parse "$REV")
export SOURCE_DATE_EPOCH

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/src"
git archive --format=tar "$REV" | tar -x -C "$WORK/src" -f - --no-same-owner

rm -rf "$OUT" && mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# Reproducible Go builds: no paths (-trimpath), no build id, no VCS stamp
# (the exported tree has none), no cgo, the baseline instruction sets.
export CGO_ENABLED=0 GOTOOLCHAIN=local GOAMD64=v1 GOARM64=v8.0 GOFLAGS="-trimpath -buildvcs=false -mod=readonly"
LDFLAGS="-s -w -buildid= -X main.version=$VERSION"

build() { # GOOS GOARCH PROGRAM OUTPUT
	(cd "$WORK/src" && GOOS=$1 GOARCH=$2 go build -ldflags "$LDFLAGS" -o "$4" "./cmd/$3")
}

echo "dist: signagent $VERSION from $COMMIT (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, $(go env GOVERSION))"
PLATFORMS=${DIST_PLATFORMS:-linux/amd64 linux/arm64 windows/amd64 darwin/arm64}
for platform in $PLATFORMS; do
	os=${platform%/*} arch=${platform#*/} ext=""
	[ "$os" = windows ] && ext=.exe
	for prog in signagent signstash-sim; do
		build "$os" "$arch" "$prog" "$OUT/${prog}_${VERSION}_${os}_${arch}${ext}"
	done
done
echo "dist: binaries"
. "$ROOT/scripts/dist-sbom.sh"

if [ "$ONLY" != bin ]; then
	. "$ROOT/scripts/dist-deb.sh"
	. "$ROOT/scripts/dist-msi.sh"
fi

(cd "$OUT" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | LC_ALL=C sort | xargs sha256sum >SHA256SUMS)
echo "dist: $OUT"
cat "$OUT/SHA256SUMS"
