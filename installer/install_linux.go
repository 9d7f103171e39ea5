//go:build linux

package installer

import "path/filepath"

func prepare(opts Options) (platform, Options, error) {
	o, err := opts.resolve(filepath.IsAbs)
	if err != nil {
		return nil, o, err
	}
	unit, err := RenderSystemdUnit(o)
	if err != nil {
		return nil, o, err
	}
	return systemdService(o, SystemdUnitDir, unit, execRun, isRoot), o, nil
}
