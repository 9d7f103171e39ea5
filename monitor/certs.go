package monitor

import (
	"context"
	"log/slog"
	"time"
)

// CertificateLogInterval is how often LogCertificates runs again.
const CertificateLogInterval = 24 * time.Hour

// LogCertificates logs every backend's signing certificate: subject,
// issuer and expiry at Info, as a warning from warnBefore ahead of its
// expiry (CertificateWarning when zero), as an error once expired.
// Backends whose certificate stays at the signing service are logged as
// such.
func LogCertificates(log *slog.Logger, bs []BackendInfo, now time.Time, warnBefore time.Duration) {
	if warnBefore <= 0 {
		warnBefore = CertificateWarning
	}
	for _, b := range bs {
		if b.NotAfter.IsZero() {
			log.Info("signing certificate held by the signing service", "backend", b.Name, "type", b.Type)
			continue
		}
		attrs := []any{"backend", b.Name, "subject", b.Subject, "issuer", b.Issuer,
			"expires", b.NotAfter.UTC().Format(time.RFC3339), "days_left", int(b.NotAfter.Sub(now).Hours() / 24)}
		if b.Dev {
			attrs = append(attrs, "development", true)
		}
		switch left := b.NotAfter.Sub(now); {
		case left <= 0:
			log.Error("signing certificate expired: documents cannot be signed; configure the renewed certificate", attrs...)
		case left < warnBefore:
			log.Warn("signing certificate expires soon: renew it and configure the new one", attrs...)
		default:
			log.Info("signing certificate", attrs...)
		}
	}
}

// RunCertificateLog logs the certificates now and every
// CertificateLogInterval until ctx is done.
func RunCertificateLog(ctx context.Context, log *slog.Logger, bs []BackendInfo, now func() time.Time, warnBefore time.Duration) {
	if now == nil {
		now = time.Now
	}
	t := time.NewTicker(CertificateLogInterval)
	defer t.Stop()
	for {
		LogCertificates(log, bs, now(), warnBefore)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
