//go:build windows

package installer

import "golang.org/x/sys/windows"

// driveTypeOf asks Windows what kind of drive letter is.
func driveTypeOf(letter byte) driveKind {
	root, err := windows.UTF16PtrFromString(string(rune(letter)) + `:\`)
	if err != nil {
		return driveUnknown
	}
	switch windows.GetDriveType(root) {
	case windows.DRIVE_REMOTE:
		return driveRemote
	case windows.DRIVE_NO_ROOT_DIR:
		return driveMissing
	case windows.DRIVE_UNKNOWN:
		return driveUnknown
	default:
		return driveLocal
	}
}
