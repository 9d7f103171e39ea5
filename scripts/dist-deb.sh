# Debian packages (amd64, arm64), sourced by scripts/dist.sh: WORK, OUT,
# VERSION, LDFLAGS, NFPM and build() come from there. The unit, man page
# and completion are written by the release's own signagent
# (`signagent package-files`), so they match the binary they ship with.

PKG=$WORK/pkg
mkdir -p "$PKG"
sed -f "$WORK/src/packaging/config.sed" "$WORK/src/config.example.toml" >"$PKG/config.toml"
if grep -q '"var/\|make run' "$PKG/config.toml"; then
	echo "dist: packaging/config.sed left development paths in the packaged configuration:" >&2
	grep -n '"var/\|make run' "$PKG/config.toml" >&2
	exit 1
fi
build "$(go env GOHOSTOS)" "$(go env GOHOSTARCH)" signagent "$WORK/signagent-host"
"$WORK/signagent-host" package-files --config "$PKG/config.toml" --out "$PKG"
gzip -n -9 <"$PKG/signagent.8" >"$PKG/signagent.8.gz"
cp "$WORK/src/README.md" "$WORK/src/packaging/deb/"* "$PKG/"
MAINTAINER=${DEB_MAINTAINER:-signagent maintainers <signagent@users.noreply.github.com>}
printf 'signagent (%s-1) unstable; urgency=medium\n\n  * Release %s (%s).\n\n -- %s  %s\n' \
	"$VERSION" "$VERSION" "$COMMIT" "$MAINTAINER" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")" |
	gzip -n -9 >"$PKG/changelog.Debian.gz"

for arch in amd64 arm64; do
	[[ " $PLATFORMS " == *" linux/$arch "* ]] || continue
	cp "$OUT/signagent_${VERSION}_linux_${arch}" "$PKG/signagent"
	cp "$WORK/copyright_linux_$arch" "$PKG/copyright"
	(cd "$PKG" && DEB_ARCH=$arch VERSION=$VERSION PKG=$PKG \
		DEB_MAINTAINER="$MAINTAINER" \
		GOFLAGS= $NFPM package --config "$WORK/src/packaging/nfpm.yaml" --packager deb --target "$OUT/signagent_${VERSION}-1_${arch}.deb" 2>&1 | { grep -v "^ *• \(using\|creating\|building\)" || true; })
	sbom_package "$OUT/signagent_${VERSION}-1_${arch}.deb" "$OUT/signagent_${VERSION}_linux_${arch}.cdx.json" \
		"$VERSION-1" "pkg:deb/signagent@$VERSION-1?arch=$arch"
done
echo "dist: Debian packages"
