#!/usr/bin/env bash
# Runs the Windows build under Wine: the unit tests of every package with
# Windows-specific code, then the end-to-end and service tests of
# internal/wintest, which drive signagent.exe from Linux. See README
# "Windows". Needs wine64 and gcc-mingw-w64-x86-64 (Debian 12).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

# Packages with Windows-specific code or behaviour.
PKGS=${PKGS:-"agent watcher installer config ledger signer cmd/signagent internal/winname internal/atomicfile"}
out=$root/bin/windows
export WINEPREFIX=${WINEPREFIX:-$root/bin/wine}
export WINEDEBUG=${WINEDEBUG:--all}
export WINEDLLOVERRIDES="mscoree,mshtml=" # no Mono or Gecko prompts
export PATH="/usr/lib/wine:$PATH"          # Debian keeps wine64 there
export GOOS=windows GOARCH=amd64 CGO_ENABLED=0

for tool in wine64 wineserver x86_64-w64-mingw32-gcc; do
	command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install wine64 gcc-mingw-w64-x86-64" >&2; exit 1; }
done
mkdir -p "$out"
start=$SECONDS

# 1. The Wine prefix, once; Go's runtime needs bcryptprimitives.dll.
if [ ! -d "$WINEPREFIX/drive_c/windows/system32" ]; then
	wine64 wineboot -i >/dev/null 2>&1
fi
x86_64-w64-mingw32-gcc -shared -O2 -s -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
	scripts/wine/bcryptprimitives.c scripts/wine/bcryptprimitives.def -ladvapi32
# One server for every run below (it stays in the foreground when none
# runs yet), stopped on exit.
wineserver -p >/dev/null 2>&1 &
trap 'wineserver -k 2>/dev/null || true' EXIT

# 2. Test builds only: Wine 8 answers STATUS_NOT_IMPLEMENTED to the
# FileDispositionInformationEx that os.RemoveAll uses, where Windows before
# 10 1607 answers STATUS_INVALID_INFO_CLASS; the overlay lets the standard
# library take its own fallback for that answer too, so t.TempDir can clean
# up. The product binaries are built without it.
at=$(go env GOROOT)/src/internal/syscall/windows/at_windows.go
overlay=()
if grep -q '^		STATUS_NOT_SUPPORTED:' "$at"; then
	sed 's|^\t\tSTATUS_NOT_SUPPORTED:|\t\tSTATUS_NOT_SUPPORTED, NTStatus(0xC0000002):|' "$at" >"$out/at_windows.go"
	printf '{"Replace":{"%s":"%s"}}\n' "$at" "$out/at_windows.go" >"$out/overlay.json"
	overlay=(-overlay "$out/overlay.json")
else
	echo "note: $at has changed; t.TempDir clean-up may fail under Wine" >&2
fi

# 3. Unit tests, each binary run in its package folder (testdata paths), in
# their -short form (fewer corpus documents and fault rounds than on Linux).
pkgs=()
for p in $PKGS; do pkgs+=("./$p"); done
go test -c "${overlay[@]}" -o "$out/" "${pkgs[@]}"
# Tests that cannot run here, by name, each with its reason. Everything
# else in these packages runs.
skip() {
	case $1 in
	agent) echo 'TestAlreadySignedTooLargeAndSymlink|TestSwappedForLinkAfterClaim|TestHostileInputsOneOutcomeEach' ;; # symlinks need a privilege on Windows; names with line breaks are invalid there
	watcher) echo 'TestSymlinks|TestEventOverflowRescans|TestInboxRemovedAndBack' ;; # symlinks; Wine's ReadDirectoryChangesW neither overflows nor reports a removed watched folder
	installer) echo 'TestCrossBuild|TestInstallSystemd|TestInstallNeedsAdmin|TestInstallDryRun|TestInstallUnknownUser|TestUninstallKeepsDataUnlessPurge|TestPurgeNeverTouchesFolders|TestLaunchdService|TestResolveDefaults' ;; # need the go tool; systemd/launchd installs of host (C:\) paths
	config) echo 'TestDefaultsApplied|TestValuesDecoded|TestLookups' ;; # expect Unix paths
	signer) echo 'TestPasswordFilePermissionsWarn|TestDevCredentials' ;; # Unix permission bits
	cmd/signagent) echo 'TestCrashLoopExactlyOnce|TestSecondAgentOnOneDataDirExits|TestRecheckCommand|TestPackageFiles|TestStatusPageInBrowser' ;; # need the go tool (internal/wintest kills signagent.exe instead); Unix permission bits; Debian package files (Linux paths); the browser is Linux's chromium
	esac
}
fail=0
for p in $PKGS; do
	bin=$out/$(basename "$p").test.exe
	s=$(skip "$p")
	echo "--- wine: $p${s:+ (skipped: $s)}"
	if ! (cd "$p" && timeout 300 wine64 "$bin" -test.short -test.timeout 4m -test.count 1 ${s:+-test.skip "$s"} ${TESTFLAGS:-}); then
		echo "FAIL (windows under wine): $p"
		fail=1
	fi
done

# 4. End to end: signagent.exe (the product build) under Wine, driven and
# checked from Linux.
go build -trimpath -o "$out/signagent.exe" ./cmd/signagent
go build -o "$out/producer.exe" ./internal/wintest/producer
GOOS= GOARCH= go test -count=1 -timeout 6m -tags wine ./internal/wintest \
	-signagent "$out/signagent.exe" -producer "$out/producer.exe" || fail=1

echo "test-windows: $((SECONDS - start)) s"
exit $fail
