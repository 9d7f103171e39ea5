package main

import "errors"

// account is not built on Windows (see lookupAccount).
type account struct{}

// lookupAccount: on Windows rights come from ACLs evaluated against the
// account's token, which check does not rebuild.
func lookupAccount(name string) (*account, error) {
	if err := serviceAccountExists(name); err != nil {
		return nil, err
	}
	return nil, errors.New("check --as is not available on Windows: open the folders' Security tab, " +
		"or run `signagent check` in a shell started as that account (runas /user:DOMAIN\\name cmd)")
}

func (a *account) access(string, int) error { return nil }
