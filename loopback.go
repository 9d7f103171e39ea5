package signagent

import (
	"net"
	"strings"
)

// LoopbackHost reports whether host (a name or an IP literal, brackets
// allowed) reaches only this machine, without a lookup: "localhost" or a
// loopback address. An empty host means every interface and is not. It is
// the one test behind the policy that the monitor listens on loopback
// unless the configuration says otherwise (config warns, the monitor
// refuses anything else, and checks "localhost" again once bound).
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
