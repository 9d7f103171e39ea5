//go:build !windows

package installer

// driveTypeOf cannot know drive letters outside Windows: syntax only.
func driveTypeOf(byte) driveKind { return driveUnknown }
