// Package monitor serves the agent's operations surface over HTTP: Prometheus
// metrics on /metrics, a health verdict on /healthz and the queue report on
// /status.
//
// Metrics implements signagent.Observer, so the pipeline feeds it events as
// they happen (counters and histograms); the queue gauges are read from a
// status function at scrape time, so they are never stale and cost nothing
// between scrapes. Metrics owns its registry: nothing is registered globally.
//
// Server binds to loopback unless AllowRemote is set, and shuts down
// gracefully when its context ends. Healthy holds the rule that turns a
// status report into a health verdict; /healthz and the CLI share it.
package monitor
