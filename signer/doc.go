// Package signer is the local signing backend: it implements the contract
// of package signing in-process.
//
// Local signs in-process with a key loaded once by NewLocal: PAdES baseline
// for PDF (package pades), XAdES-B-B enveloped for XML (package xades) and a
// detached CAdES .p7s for anything else (package cades), B-T when a
// timestamp authority is configured. Its credentials come from
// LoadCredentials (PKCS#12 or PEM) or, for certificate = "dev", from
// DevCredentials, which creates an untrusted development CA and signer once
// in the data directory and warns on every load.
//
// VerifyFile checks signed outputs offline (signature integrity and
// coverage, not trust), for `signagent verify`.
//
// Secrets (keys, passwords) never appear in errors or logs. Errors users can
// hit are *signagent.Error values whose Kind tells the agent what to do:
// KindDocument for a bad document, KindConfig for credentials and settings.
package signer
