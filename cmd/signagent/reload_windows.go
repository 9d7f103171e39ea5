package main

import (
	"fmt"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// signalReload asks the agent with pid, when it runs as the service, to
// read its configuration again: a parameter change
// (SERVICE_CONTROL_PARAMCHANGE) through the service manager, which the
// service's handler turns into a reload. An agent run in a console has no
// such channel.
func signalReload(pid int) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(serviceName)
	if err != nil {
		return fmt.Errorf("the agent (pid %d) is not the %s service (%v): stop it and run it again to read its configuration", pid, serviceName, err)
	}
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return fmt.Errorf("query service %s: %w", serviceName, err)
	}
	if int(st.ProcessId) != pid {
		return fmt.Errorf("the agent (pid %d) is not the %s service (pid %d): stop it and run it again to read its configuration", pid, serviceName, st.ProcessId)
	}
	if _, err := s.Control(svc.ParamChange); err != nil {
		return fmt.Errorf("ask service %s to reload: %w", serviceName, err)
	}
	return nil
}
