// Package config reads the agent's TOML configuration file.
//
// One file describes the whole agent: where it keeps its data, how it logs,
// where it listens for status and metrics, the signing backends and the
// watched folders. Defaults live in code (Default and the Default…
// constants); an empty file is a valid configuration with one development
// "local" backend and no folders. The documented example is
// config.example.toml at the repository root.
//
// Parse and Load report everything that is wrong at once, as *Problems: TOML
// syntax, unknown keys (an inline client_secret among them: secrets come from
// a file or an environment variable, never from this file), values of the
// wrong type or out of range, and inconsistent folder layouts. Every problem
// names its key the way it is written in the file, with the array index where
// there is one (folders[1].settle), and the line when the file gives one.
//
// Relative paths in the file are resolved against the directory of the
// config file. Check adds what can only be learnt from the filesystem:
// missing or unwritable folders, folders of one set on different volumes
// (claims and publication are atomic renames), secret files readable by
// others. The package reads files but never the environment: a backend's
// client_secret_env is only a name, for the caller to look up.
package config
