package monitor

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func certFixture(now time.Time) []BackendInfo {
	return []BackendInfo{
		{Name: "dev", Type: "local", Subject: "CN=dev", Issuer: "CN=dev CA", NotAfter: now.Add(3650 * 24 * time.Hour), Dev: true},
		{Name: "soon", Type: "local", Subject: "CN=ACME", Issuer: "CN=QCA", NotAfter: now.Add(12 * 24 * time.Hour)},
		{Name: "old", Type: "local", Subject: "CN=Old", Issuer: "CN=QCA", NotAfter: now.Add(-time.Hour)},
		{Name: "remote", Type: "signstash", Note: "held by the signing service"},
	}
}

func TestLogCertificates(t *testing.T) {
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	LogCertificates(slog.New(slog.NewTextHandler(&buf, nil)), certFixture(now), now, 0)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want one line per backend:\n%s", buf.String())
	}
	for i, want := range [][]string{
		{"level=INFO", "backend=dev", `subject="CN=dev"`, "development=true", "days_left=3650"},
		{"level=WARN", "expires soon", "backend=soon", "expires=2025-03-16T10:00:00Z", "days_left=12"},
		{"level=ERROR", "expired", "backend=old"},
		{"level=INFO", "held by the signing service", "backend=remote"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d lacks %q: %s", i, w, lines[i])
			}
		}
	}
}

func TestCertificateExpiryMetric(t *testing.T) {
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	m := NewMetrics()
	m.Certificates(certFixture(now))
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "signagent_certificate_expiry_timestamp_seconds" {
			continue
		}
		for _, mt := range f.GetMetric() {
			got[mt.GetLabel()[0].GetValue()] = mt.GetGauge().GetValue()
		}
	}
	for _, b := range certFixture(now) {
		v, ok := got[b.Name]
		switch {
		case b.NotAfter.IsZero() && ok:
			t.Errorf("%s: exported although its certificate is remote", b.Name)
		case !b.NotAfter.IsZero() && v != float64(b.NotAfter.Unix()):
			t.Errorf("%s: expiry %v, want %d", b.Name, v, b.NotAfter.Unix())
		}
	}
}
