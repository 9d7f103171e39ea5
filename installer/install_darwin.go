//go:build darwin

package installer

import "path/filepath"

func prepare(opts Options) (platform, Options, error) {
	o, err := opts.resolve(filepath.IsAbs)
	if err != nil {
		return nil, o, err
	}
	plist, err := RenderLaunchdPlist(o)
	if err != nil {
		return nil, o, err
	}
	return launchdService(o, LaunchdDir, plist, execRun, isRoot), o, nil
}
