# The Windows MSI, sourced by scripts/dist.sh: WORK, OUT, VERSION, COMMIT and
# SOURCE_DATE_EPOCH come from there. Needs wixl and msibuild (Debian:
# wixl, msitools); without them the MSI is skipped with a warning.

if [[ " $PLATFORMS " != *" windows/amd64 "* ]]; then
	:
elif ! command -v wixl >/dev/null || ! command -v msibuild >/dev/null || ! command -v msiinfo >/dev/null; then
	echo "dist: warning: no MSI: wixl and msitools are not installed (apt-get install wixl msitools)" >&2
else
	MSI=$WORK/msi
	mkdir -p "$MSI"
	sed -f "$WORK/src/packaging/config-windows.sed" "$WORK/src/config.example.toml" >"$MSI/config.toml"
	if grep -q '"var/\|make run' "$MSI/config.toml"; then
		echo "dist: packaging/config-windows.sed left development paths in the MSI's configuration" >&2
		exit 1
	fi
	cp "$OUT/signagent_${VERSION}_windows_amd64.exe" "$MSI/signagent.exe"
	cp "$WORK/src/README.md" "$MSI/README.md"
	cp "$WORK/copyright_windows_amd64" "$MSI/copyright.txt"
	touch -d "@$SOURCE_DATE_EPOCH" "$MSI"/* # the cabinet keeps each file's time

	# A GUID from a hash: the same inputs give the same codes. The product
	# code changes with every version (each release is a major upgrade), the
	# package code with every distinct MSI.
	guid() { printf '%s' "$1" | sha256sum | tr a-f A-F |
		sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/'; }
	PRODUCT_CODE=$(guid "signagent product $VERSION")
	PACKAGE_CODE=$(guid "signagent package $VERSION $COMMIT")
	TARGET=$OUT/signagent_${VERSION}_windows_amd64.msi

	# wixl takes sources relative to the working directory.
	(cd "$MSI" && wixl --arch x64 -o "$TARGET" \
		-D Version="$VERSION" -D ProductCode="$PRODUCT_CODE" -D PackageCode="$PACKAGE_CODE" \
		-D Exe=signagent.exe -D Config=config.toml -D Readme=README.md -D Copyright=copyright.txt \
		"$WORK/src/packaging/msi/signagent.wxs" 2> >(grep -v "has no property named\|^$" >&2))
	# wixl ignores Component/@Permanent and @NeverOverwrite: set them
	# (0x10 | 0x80, beside 0x100 for 64-bit) on the configuration.
	msibuild "$TARGET" -q "UPDATE Component SET Attributes = 400 WHERE Component = 'Config'"
	(cd "$WORK/src" && go build -o "$WORK/msistamp" ./packaging/msi/msistamp)
	"$WORK/msistamp" -package-code "{$PACKAGE_CODE}" -time "$SOURCE_DATE_EPOCH" "$TARGET"
	if ! msiinfo suminfo "$TARGET" | grep -q "{$PACKAGE_CODE}"; then
		echo "dist: the MSI's package code was not set" >&2
		exit 1
	fi
	sbom_package "$TARGET" "$OUT/signagent_${VERSION}_windows_amd64.exe.cdx.json" \
		"$VERSION" "pkg:generic/signagent@$VERSION?arch=amd64&os=windows&type=msi"
	echo "dist: MSI"
fi
