package signagent

// Constructors for the error kinds the agent acts on (see KindOf), each with
// the code that kind is written under. msg says what happened, hint (may be
// empty) what to do next; err (may be nil) is the cause, for errors.Is and
// errors.As. A caller that needs another code sets Code on the result.

// ConfigError is a configuration or account problem (KindConfig,
// CodeConfig): the folder is held and its documents wait until it is fixed.
func ConfigError(msg, hint string, err error) *Error {
	return &Error{Kind: KindConfig, Code: CodeConfig, Message: msg, Hint: hint, Err: err}
}

// LocalError is a fault of this machine, such as a missing folder or a full
// disk (KindLocal, CodeLocal): the folder is held and retried; the original
// is never lost.
func LocalError(msg, hint string, err error) *Error {
	return &Error{Kind: KindLocal, Code: CodeLocal, Message: msg, Hint: hint, Err: err}
}

// TransientError is a failure that may pass, such as no answer from a
// server (KindTransient, CodeTransient): the work is retried with backoff.
func TransientError(msg, hint string, err error) *Error {
	return &Error{Kind: KindTransient, Code: CodeTransient, Message: msg, Hint: hint, Err: err}
}
