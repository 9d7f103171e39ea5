package installer

import (
	"fmt"
	"net"
	"strings"
)

// NotifyReady tells systemd the service is ready (READY=1). Call it after
// the first reconcile scan. socket is $NOTIFY_SOCKET, read by cmd; an empty
// socket (not started by systemd with Type=notify) makes it a no-op.
func NotifyReady(socket string) error { return sdNotify(socket, "READY=1") }

// NotifyStopping tells systemd a graceful stop has begun (STOPPING=1).
func NotifyStopping(socket string) error { return sdNotify(socket, "STOPPING=1") }

// NotifyStatus sets the one-line status `systemctl status` shows.
func NotifyStatus(socket, status string) error {
	return sdNotify(socket, "STATUS="+strings.ReplaceAll(status, "\n", " "))
}

// sdNotify sends one datagram to the notification socket. A socket name
// starting with '@' is in the abstract namespace, which the net package
// maps for us.
func sdNotify(socket, state string) error {
	if socket == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	return nil
}
