// Package signing is the contract between the pipeline and a signing
// backend: the signature formats (Type), the per-document settings
// (Options), a batch of documents (Batch, Doc), the backend's handle on it
// (Operation, Result) and the Backend interface. It holds no signing code,
// so the packages that speak the contract — the Sign'Stash client, the
// configuration, the ledger — never pull in PDF, XML or CMS code; the local
// backend lives in package signer.
package signing

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"time"
)

// Type is a signature format.
type Type string

// Signature formats. TypeAuto picks PAdES for PDF, XAdES for XML and CAdES
// for anything else (see Resolve).
const (
	TypeAuto  Type = "auto"
	TypePAdES Type = "pades"
	TypeXAdES Type = "xades"
	TypeCAdES Type = "cades"
)

// Resolve returns the concrete format for a file called name under t.
func (t Type) Resolve(name string) Type {
	if t != TypeAuto && t != "" {
		return t
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".pdf":
		return TypePAdES
	case ".xml":
		return TypeXAdES
	default:
		return TypeCAdES
	}
}

// OutputName is the name of the signed artefact for an input called name:
// the same name for PAdES and XAdES, name + ".p7s" for a detached CAdES
// signature.
func OutputName(name string, t Type) string {
	if t == TypeCAdES {
		return name + ".p7s"
	}
	return name
}

// Visible places a visible signature widget. Page is 1-based; the rectangle
// is in PDF user-space points from the page's lower-left corner.
//
// Location says how the widget is placed: at Page, X, Y (LocationCoordinate,
// also the zero value), in the PDF's existing signature field named Field
// (LocationSignField), or at the first occurrence of the word Placeholder in
// the document (LocationPlaceholder; a document without it fails). W and H
// size the widget in every case; zero leaves the size to the backend.
type Visible struct {
	Page       int
	X, Y, W, H float64

	Location    Location
	Field       string // LocationSignField: the existing field's name
	Placeholder string // LocationPlaceholder: the word to place the widget at
}

// Location is how a visible signature is placed; the values are the
// configuration's words.
type Location string

// Locations of a visible signature.
const (
	LocationCoordinate  Location = "coordinate"
	LocationSignField   Location = "sign_field"
	LocationPlaceholder Location = "placeholder"
)

// Options are the per-document signature settings of a folder.
type Options struct {
	Type     Type
	Reason   string
	Location string
	Name     string // signer name shown in the signature dictionary (/Name)
	// Timestamp asks for an RFC 3161 signature timestamp (PAdES B-T); the
	// local signer needs a configured TSA URL, Sign'Stash uses its own TSA.
	Timestamp bool
	// Visible, when non-nil, makes the PDF signature visible.
	Visible *Visible
	// Time is the claimed signing time; zero means now.
	Time time.Time
}

// Doc is one document of a batch, as handed to a backend.
type Doc struct {
	Ref  string // unique external reference of this document
	Name string // base name of the original file (decides content type)
	Path string // the claimed original; the backend opens and reads it, never changes it
	Size int64
	// Out is where the backend writes the signed artefact (in the claim area).
	// The agent creates no file there; the backend creates or truncates it,
	// and leaves no file at Out when the document fails.
	Out  string
	Opts Options
}

// Batch is a group of documents submitted together under one unique
// external reference.
type Batch struct {
	Ref  string
	Docs []Doc
}

// Operation is a backend's handle on a submitted batch. It is stored in the
// ledger (as JSON) so tracking can resume after a restart.
type Operation struct {
	ID string `json:"id,omitempty"`
	// Endpoint is where follow-up calls must go (host:port affinity); empty
	// when any instance will do.
	Endpoint string `json:"endpoint,omitempty"`
	// Ref is the external reference the batch was submitted under.
	Ref string `json:"ref,omitempty"`
	// Done reports that Results are final.
	Done bool `json:"done,omitempty"`
	// Results has one entry per document, in batch order, once Done.
	Results []Result `json:"-"`
	// PollAfter suggests when to poll next; zero lets the agent decide.
	PollAfter time.Duration `json:"-"`
}

// Result is the outcome of one document. Err nil means the signed artefact
// is at the document's Out path. Otherwise Err is a *signagent.Error whose
// Kind says whether the document is bad (KindDocument) or the attempt should
// be retried.
type Result struct {
	Ref string
	Err error
	// SHA256 is the hex SHA-256 of the bytes the backend read and signed,
	// when it knows them ("" otherwise): the agent compares it with the
	// digest it recorded, so a file rewritten while it was read is never
	// published under the old digest.
	SHA256 string
	// Written, from the local signer, are the digests of a PAdES output it
	// took from the bytes it read back while signing them, nil from any
	// other backend. The agent's check then verifies the output's
	// signature against them instead of reading and hashing the whole
	// file again; every output from elsewhere is hashed in full.
	Written *Written
}

// Written are SHA-256 digests of a signed PDF, taken by the signer that
// wrote it (see Result.Written).
type Written struct {
	// ByteRange is the new signature's /ByteRange and Signed the digest
	// of those ranges, the one it signs.
	ByteRange [4]int64
	Signed    []byte
	// Prefix is the digest of the output's first PrefixLen bytes, the
	// original document.
	Prefix    []byte
	PrefixLen int64
	// File is the digest of the whole output, Size bytes long.
	File []byte
	Size int64
}

// ErrNotFound is returned by Lookup when the backend proves it holds no
// operation for a reference, so resubmitting cannot sign twice.
var ErrNotFound = errors.New("operation not found")

// ErrNotTaken, wrapped in a failed call's error, says the backend refused
// the call before doing any work (a throttled request, HTTP 429): a Submit
// that fails with it left nothing behind, so the batch is sent again
// without a look-up.
var ErrNotTaken = errors.New("refused before any work was done")

// Backend signs batches. Implementations: the local signer (synchronous) and
// the Sign'Stash client (sync or async). All methods are safe for concurrent
// use and honour ctx.
//
// Errors returned by the methods themselves concern the whole call: a
// *signagent.Error of KindConfig holds the folder, KindTransient is retried
// (after Lookup, because the outcome of a send may be unknown), KindDocument
// fails every document of the batch. Per-document failures are reported in
// Operation.Results instead.
type Backend interface {
	// Name is the configured backend name, for logs and error files.
	Name() string
	// Submit sends the batch. A synchronous backend returns a Done operation.
	Submit(ctx context.Context, b *Batch) (*Operation, error)
	// Poll advances a not-yet-Done operation; when the returned operation is
	// Done, every signed artefact has been written to its Doc.Out.
	Poll(ctx context.Context, b *Batch, op *Operation) (*Operation, error)
	// Lookup finds the operation created for b.Ref after a send whose outcome
	// is unknown. It returns ErrNotFound only when the backend proves the
	// operation absent.
	Lookup(ctx context.Context, b *Batch) (*Operation, error)
}
