# SBOMs and copyright files, sourced by scripts/dist.sh after the binaries
# are built: WORK, OUT and VERSION come from there.
#
# Every binary gets a CycloneDX SBOM beside it (NAME.cdx.json), written by
# cyclonedx-gomod (pinned) from the module list the Go build embeds, with
# each module's licence read from its licence file (packaging/pkgmeta). No
# serial number, no time: the SBOM of a binary is a function of the binary.
# The packages' copyright files are generated from the SBOMs of the
# binaries they ship; sbom_package writes a package's own SBOM once it is
# built.
CYCLONEDX=${CYCLONEDX:-github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0}

GOBIN=$WORK/tools GOFLAGS=-trimpath go install "$CYCLONEDX"
(cd "$WORK/src" && go build -o "$WORK/tools/pkgmeta" ./packaging/pkgmeta)
MODCACHE=$(go env GOMODCACHE)
GOROOT_DIR=$(go env GOROOT)

for bin in "$OUT"/*_"$VERSION"_*; do
	name=${bin##*/}
	platform=${name#*_"$VERSION"_} platform=${platform%.exe}
	# The package URLs carry the binary's platform, taken from the environment.
	GOOS=${platform%_*} GOARCH=${platform#*_} "$WORK/tools/cyclonedx-gomod" bin -json -noserial -notimestamp -std \
		-version "v$VERSION" -output "$WORK/raw.cdx.json" "$bin"
	"$WORK/tools/pkgmeta" sbom -modcache "$MODCACHE" -goroot "$GOROOT_DIR" <"$WORK/raw.cdx.json" >"$bin.cdx.json"
done
for platform in linux_amd64 linux_arm64 windows_amd64; do
	[[ " $PLATFORMS " == *" ${platform/_//} "* ]] || continue
	ext=""
	[ "$platform" = windows_amd64 ] && ext=.exe
	dst=/usr/bin/signagent
	[ "$platform" = windows_amd64 ] && dst='C:\Program Files\signagent\signagent.exe'
	"$WORK/tools/pkgmeta" copyright -modcache "$MODCACHE" -goroot "$GOROOT_DIR" -binary "$dst" \
		<"$OUT/signagent_${VERSION}_${platform}${ext}.cdx.json" >"$WORK/copyright_$platform"
done
echo "dist: SBOMs and copyright files"

# sbom_package PACKAGE_FILE BINARY_SBOM VERSION PURL
sbom_package() {
	"$WORK/tools/pkgmeta" package -name signagent -version "$3" -purl "$4" -file "$1" <"$2" >"$1.cdx.json"
}
