package monitor

import (
	"testing"
	"time"
)

// A network inbox is labelled as such, with its scan interval and the files
// scans found that no event had reported.
func TestInboxMetrics(t *testing.T) {
	st := sampleStatus()
	st.Folders[0].FileSystem, st.Folders[0].Network = "smb", true
	st.Folders[0].ScanInterval, st.Folders[0].Unreported = 3*time.Second, 7
	fs := &fakeStatus{st: st}
	m := NewMetrics()
	url := startServer(t, &Server{Status: fs.get, Metrics: m})
	fams := scrape(t, url)
	name := st.Folders[0].Name
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"signagent_inbox_info", []string{"folder", name, "fs", "smb", "network", "true"}, 1},
		{"signagent_scan_interval_seconds", []string{"folder", name}, 3},
		{"signagent_watcher_unreported_files_total", []string{"folder", name}, 7},
	} {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// A folder whose file system is unknown (status read without a
	// running agent) has no such series.
	if n := len(fams["signagent_inbox_info"].GetMetric()); n != 1 {
		t.Errorf("signagent_inbox_info has %d series, want 1", n)
	}
}
