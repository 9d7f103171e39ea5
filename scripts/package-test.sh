#!/usr/bin/env bash
# Tests the release packages of the last commit (make package-test):
#
#  1. builds the release twice (the second time under another time zone,
#     umask and locale) and compares SHA256SUMS: reproducible;
#  2. checks every artifact's SBOM;
#  3. inspects the MSI's tables (msiinfo) and contents (msiextract); under
#     Wine, installs it, checks the service's quoted command line, uninstalls;
#  4. as root: installs this machine's .deb (amd64 in CI) with dpkg -i and checks its files,
#     owners and modes, the signagent account, the unit (systemd-analyze
#     verify), `signagent version`; edits the conffile, upgrades to a second
#     build (another version) and checks the edit is kept; purges and checks
#     that the machine is as it was before.
#
# Step 4 changes this machine (CI's is thrown away): it refuses to run when
# signagent is installed or its account exists, and purges the package on
# any failure. Not root: steps 1-3 only.
#
#   scripts/package-test.sh [VERSION]     (default 0.1.0; the upgrade is to VERSION with the patch + 1)
#
# Needs what make dist needs (wixl, msitools for the MSI), jq, dpkg and
# systemd-analyze; with wine64 and gcc-mingw-w64-x86-64 (make test-windows)
# it also installs and uninstalls the MSI under Wine.
set -euo pipefail
cd "$(dirname "$0")/.."

V1=${1:-0.1.0}
V2=${V1%.*}.$((${V1##*.} + 1))
ARCH=$(dpkg --print-architecture)
export DIST_REV=$(git rev-parse "${DIST_REV:-HEAD}")
T=$(mktemp -d)
INSTALLED=""

fail() { echo "package-test: FAIL: $*" >&2; exit 1; }
ok() { echo "package-test: ok: $*"; }
cleanup() {
	if [ -d "$T/wine" ]; then
		WINEPREFIX=$T/wine PATH="/usr/lib/wine:$PATH" wineserver -k 2>/dev/null || true
	fi
	if [ -n "$INSTALLED" ] && dpkg-query -W signagent >/dev/null 2>&1; then
		echo "package-test: purging signagent after a failure" >&2
		dpkg --purge signagent >/dev/null 2>&1 || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT
START=$SECONDS
step() { echo "package-test: [$((SECONDS - START))s] $*"; }

for tool in jq wixl msiinfo msiextract dpkg-deb; do
	command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install jq wixl msitools)"
done

# 1. Reproducible: two builds of V1; a third, V2, to upgrade to.
step "build $V1 twice and $V2 once, from $DIST_REV"
DIST_DIR=$T/a scripts/dist.sh "$V1" >"$T/a.log" 2>&1 || { cat "$T/a.log" >&2; fail "make dist $V1"; }
(umask 077 && TZ=Pacific/Kiritimati LC_ALL=C.UTF-8 DIST_DIR=$T/b scripts/dist.sh "$V1" >"$T/b.log" 2>&1) ||
	{ cat "$T/b.log" >&2; fail "make dist $V1 (second build)"; }
cmp -s "$T/a/SHA256SUMS" "$T/b/SHA256SUMS" || { diff "$T/a/SHA256SUMS" "$T/b/SHA256SUMS" >&2; fail "two builds of $V1 differ"; }
(cd "$T/a" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match the artifacts"
ok "reproducible: $(wc -l <"$T/a/SHA256SUMS") artifacts identical in both builds"
DIST_PLATFORMS=linux/$ARCH DIST_DIR=$T/c scripts/dist.sh "$V2" >"$T/c.log" 2>&1 || { cat "$T/c.log" >&2; fail "make dist $V2"; }
A=$T/a
DEB=$A/signagent_${V1}-1_${ARCH}.deb
DEB2=$T/c/signagent_${V2}-1_${ARCH}.deb
MSI=$A/signagent_${V1}_windows_amd64.msi

# 2. SBOMs: one per artifact, CycloneDX, no serial or time, every module
# with its licence, the artifact's own version.
step "SBOMs"
artifacts=$(cd "$A" && ls | grep -v '\.cdx\.json$\|^SHA256SUMS$')
for f in $artifacts; do
	s=$A/$f.cdx.json
	[ -f "$s" ] || fail "$f has no SBOM ($f.cdx.json)"
	jq -e '.bomFormat == "CycloneDX" and (has("serialNumber") | not) and (.metadata | has("timestamp") | not)' "$s" >/dev/null ||
		fail "$f.cdx.json: not CycloneDX, or has a serial number or a time"
	jq -e '[.components[] | select((.purl | startswith("pkg:golang/")) and .name != "github.com/signagent/signagent")] |
		length > 3 and all(.licenses[0].license.id | length > 0)' "$s" >/dev/null ||
		fail "$f.cdx.json: few Go modules, or one without a licence"
	jq -e '.components[] | select(.name == "std")' "$s" >/dev/null || fail "$f.cdx.json: no Go standard library"
done
jq -e --arg v "v$V1" '.metadata.component.version == $v' "$A/signagent_${V1}_linux_amd64.cdx.json" >/dev/null || fail "binary SBOM: version"
jq -e --arg v "$V1-1" --arg sum "$(sha256sum <"$DEB" | cut -d' ' -f1)" \
	'.metadata.component.version == $v and .metadata.component.hashes[0].content == $sum and
	 (.components[0].name == "github.com/signagent/signagent")' "$DEB.cdx.json" >/dev/null ||
	fail "the .deb's SBOM: version, hash or the binary it ships"
ok "$(echo "$artifacts" | wc -w) artifacts, each with its SBOM"

# 3. The MSI: its tables and its files.
step "MSI"
table() { msiinfo export "$MSI" "$1" | tr -d '\r' | tail -n +4; } # rows, without the three header lines
tables=$(msiinfo tables "$MSI" | tr -d '\r')
for t in File Component ServiceInstall ServiceControl CustomAction InstallExecuteSequence Upgrade Registry; do
	grep -qx "$t" <<<"$tables" || fail "MSI: no $t table"
done
files=$(table File | cut -f3 | LC_ALL=C sort | tr '\n' ' ')
[ "$files" = "README.md config.toml copyright.txt signagent.exe " ] || fail "MSI: File names: $files"
table Component | grep -q "^Config	.*	400	" || fail "MSI: the configuration's component is not Permanent and NeverOverwrite (400)"
svc=$(table ServiceInstall)
# Name, start type 2 (automatic), LocalSystem, the arguments; Windows
# Installer puts the file's path before them, and the custom action
# (signagent install) quotes it if it did not.
awk -F'\t' '$2 == "signagent" && $5 == 2 && $9 == "LocalSystem" && $11 == "run --config \"[CommonAppDataFolder]signagent\\config.toml\"" && $12 == "Executable" {found=1} END {exit !found}' <<<"$svc" ||
	fail "MSI: ServiceInstall row: $svc"
table ServiceControl | awk -F'\t' '$2 == "signagent" {found=1} END {exit !found}' || fail "MSI: no ServiceControl for signagent"
table CustomAction | grep -q '^SetServiceOptions	.*	signagent.exe	install --config "\[CommonAppDataFolder\]signagent\\config.toml"' ||
	fail "MSI: the SetServiceOptions custom action: $(table CustomAction)"
table InstallExecuteSequence | grep -q '^SetServiceOptions	NOT REMOVE	' || fail "MSI: SetServiceOptions is not sequenced"
table Upgrade | grep -q '^{74D00632-5530-4EB9-8FA3-1E77C8A77D45}	' || fail "MSI: the Upgrade table has not the UpgradeCode"
table Property | grep -qx "ProductVersion	$V1" || fail "MSI: ProductVersion is not $V1"
mkdir "$T/msi"
msiextract -C "$T/msi" "$MSI" >/dev/null
exe=$(find "$T/msi" -name signagent.exe)
[ -n "$exe" ] && cmp -s "$exe" "$A/signagent_${V1}_windows_amd64.exe" || fail "MSI: signagent.exe is not the release's"
conf=$(find "$T/msi" -name config.toml)
grep -q 'C:\\ProgramData\\signagent' "$conf" && ! grep -q '"var/' "$conf" || fail "MSI: config.toml has not the Windows paths"
grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' "$(find "$T/msi" -name copyright.txt)" ||
	fail "MSI: no copyright.txt"
ok "MSI tables (File, Component, ServiceInstall, ServiceControl, CustomAction, Upgrade) and files"

# 3b. The MSI installed under Wine, when it is here (CI has it for make
# test-windows). Wine's Windows Installer registers the service from
# ServiceInstall with the path unquoted; the custom action must quote it.
if { command -v wine64 >/dev/null || [ -x /usr/lib/wine/wine64 ]; } && command -v x86_64-w64-mingw32-gcc >/dev/null; then
	step "MSI under Wine: install, the service's command line, uninstall"
	(
		export WINEPREFIX=$T/wine WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" PATH="/usr/lib/wine:$PATH"
		wine64 wineboot -i >/dev/null 2>&1
		# Go's runtime needs ProcessPrng, which Wine 8 lacks (see scripts/wine).
		x86_64-w64-mingw32-gcc -shared -O2 -s -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
			scripts/wine/bcryptprimitives.c scripts/wine/bcryptprimitives.def -ladvapi32
		cp "$MSI" "$WINEPREFIX/drive_c/signagent.msi"
		wine64 msiexec /i 'C:\signagent.msi' /qn >/dev/null 2>&1 || fail "msiexec /i under Wine"
		key='HKLM\System\CurrentControlSet\Services\signagent'
		image=$(wine64 reg query "$key" /v ImagePath 2>/dev/null | tr -d '\r' | sed -n 's/^ *ImagePath *REG_[A-Z_]* *//p')
		# The executable path must be quoted (it holds a space); the
		# configuration path, which holds none, may or may not be.
		want='"C:\Program Files\signagent\signagent.exe" run --config "C:\ProgramData\signagent\config.toml"'
		case "$image" in
		"$want" | '"C:\Program Files\signagent\signagent.exe" run --config C:\ProgramData\signagent\config.toml') ;;
		*) fail "under Wine the service's command line is $image, want $want" ;;
		esac
		for f in "Program Files/signagent/signagent.exe" "Program Files/signagent/copyright.txt" "ProgramData/signagent/config.toml"; do
			[ -f "$WINEPREFIX/drive_c/$f" ] || fail "under Wine the MSI did not install $f"
		done
		wine64 msiexec /x 'C:\signagent.msi' /qn >/dev/null 2>&1 || fail "msiexec /x under Wine"
		! wine64 reg query "$key" >/dev/null 2>&1 || fail "under Wine uninstalling left the service"
		[ ! -e "$WINEPREFIX/drive_c/Program Files/signagent/signagent.exe" ] || fail "under Wine uninstalling left signagent.exe"
		[ -f "$WINEPREFIX/drive_c/ProgramData/signagent/config.toml" ] || fail "under Wine uninstalling removed config.toml"
		wineserver -k 2>/dev/null || true
	)
	ok "under Wine: the MSI registers the service with its path quoted, installs its files; uninstalling removes the service and keeps ProgramData"
fi

if [ "$(id -u)" -ne 0 ]; then
	step "not root: the .deb is not installed (run as root on a throw-away machine for that part)"
	exit 0
fi

# 4. The Debian package, installed on this machine.
step "Debian package: install $DEB"
dpkg-query -W signagent >/dev/null 2>&1 && fail "signagent is installed here already: not touching it"
getent passwd signagent >/dev/null && fail "a signagent account exists here already: not touching it"
# What the machine looks like before: every path in the places a package
# writes, and the account databases.
snapshot() {
	find /etc /usr /var/lib /var/spool /opt -xdev \
		\( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache -o -path /var/log -o -path /var/lib/systemd/timers \) -prune -o -print 2>/dev/null |
		grep -v '^/etc/\(passwd\|group\|shadow\|gshadow\|subuid\|subgid\)-$' | LC_ALL=C sort
	for f in /etc/passwd /etc/group /etc/shadow /etc/gshadow; do
		[ -f "$f" ] && grep -v '^signagent:' "$f" | sed "s|^|$f: |" || true
	done
	dpkg-statoverride --list | LC_ALL=C sort | sed 's|^|statoverride: |'
}
snapshot >"$T/before"
INSTALLED=1
dpkg -i "$DEB" >"$T/install.log" 2>&1 || { cat "$T/install.log" >&2; fail "dpkg -i"; }
grep -q "does not start until you edit" "$T/install.log" || fail "no first-install message: $(cat "$T/install.log")"

# path owner:group mode
while read -r path want; do
	[ -e "$path" ] || fail "missing: $path"
	got=$(stat -c '%U:%G %a' "$path")
	[ "$got" = "$want" ] || fail "$path: $got, want $want"
done <<EOF
/usr/bin/signagent root:root 755
/lib/systemd/system/signagent.service root:root 644
/lib/systemd/system/signagent.service.d/wait-for-config.conf root:root 644
/etc/signagent root:signagent 750
/etc/signagent/config.toml root:signagent 640
/usr/share/signagent/config.toml root:root 644
/usr/share/man/man8/signagent.8.gz root:root 644
/usr/share/bash-completion/completions/signagent root:root 644
/usr/share/doc/signagent/copyright root:root 644
/usr/share/doc/signagent/changelog.Debian.gz root:root 644
/usr/share/doc/signagent/README.md root:root 644
/var/lib/signagent signagent:signagent 750
/var/spool/signagent/inbox signagent:signagent 750
/var/spool/signagent/outbox signagent:signagent 750
/var/spool/signagent/error signagent:signagent 750
/var/spool/signagent/archive signagent:signagent 750
EOF
ok "files, owners and modes"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd signagent)
[ "$uid" -lt 1000 ] && [ "$home" = /var/lib/signagent ] && [[ $shell == */nologin || $shell == */false ]] ||
	fail "signagent account: uid $uid, home $home, shell $shell"
getent group signagent >/dev/null || fail "no signagent group"
ok "the signagent system account (uid $uid, $shell)"
dpkg-query -W -f='${Conffiles}\n' signagent | grep -q '^ /etc/signagent/config.toml ' || fail "config.toml is not a conffile"
grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' /usr/share/doc/signagent/copyright ||
	fail "copyright: not the Debian machine-readable format"
grep -q '^Files: github.com/fsnotify/fsnotify/\*' /usr/share/doc/signagent/copyright || fail "copyright: no fsnotify"
ok "conffile, copyright file"
if ! systemd-analyze verify /lib/systemd/system/signagent.service >"$T/verify.log" 2>&1; then
	cat "$T/verify.log" >&2
	fail "systemd-analyze verify"
fi
[ ! -s "$T/verify.log" ] || { cat "$T/verify.log" >&2; fail "systemd-analyze verify warns"; }
ok "systemd-analyze verify: no warnings"
[[ "$(signagent version)" == "signagent $V1 "* ]] || fail "signagent version: $(signagent version)"
ok "signagent version: $V1"

step "upgrade to $V2, the conffile edited"
echo "# edited by the administrator" >>/etc/signagent/config.toml
touch /var/lib/signagent/ledger.db
dpkg -i "$DEB2" >"$T/upgrade.log" 2>&1 || { cat "$T/upgrade.log" >&2; fail "dpkg -i (upgrade)"; }
[[ "$(signagent version)" == "signagent $V2 "* ]] || fail "after the upgrade: $(signagent version)"
tail -n 1 /etc/signagent/config.toml | grep -qx "# edited by the administrator" || fail "the upgrade lost the conffile's edit"
[ "$(stat -c '%U:%G %a' /etc/signagent/config.toml)" = "root:signagent 640" ] || fail "the upgrade changed config.toml's owner or mode"
[ -f /var/lib/signagent/ledger.db ] || fail "the upgrade lost /var/lib/signagent"
[ ! -e /etc/signagent/config.toml.dpkg-new ] && [ ! -e /etc/signagent/config.toml.dpkg-dist ] || fail "the upgrade left a config.toml.dpkg-*"
ok "upgraded to $V2: the edited conffile, its mode and the data directory kept"

step "purge"
dpkg --purge signagent >"$T/purge.log" 2>&1 || { cat "$T/purge.log" >&2; fail "dpkg --purge"; }
INSTALLED=""
getent passwd signagent >/dev/null && fail "purge left the signagent account"
getent group signagent >/dev/null && fail "purge left the signagent group"
snapshot >"$T/after"
if ! diff "$T/before" "$T/after" >"$T/diff"; then
	cat "$T/diff" >&2
	fail "purge left the machine different (< before, > after)"
fi
ok "purge removed everything the package created"
step "done"
