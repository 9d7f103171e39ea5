package wire

import (
	"encoding/json"
	"mime"
	"path/filepath"
	"strconv"
	"strings"
)

// Operation statuses (OperationStatus).
const (
	StatusPending  = "PENDING_EXECUTION"
	StatusExecuted = "EXECUTED"
	StatusError    = "EXECUTION_ERROR" // the service will retry
	StatusFailed   = "EXECUTION_FAILED"
)

// Document sign statuses.
const (
	SignReceived = "RECEIVED"
	SignError    = "ERROR_SIGNING"
	SignSigned   = "SIGNED"
)

// ErrorResponse is the service's error body.
type ErrorResponse struct {
	ErrorCode            string `json:"errorCode"`
	ErrorCodeDescription string `json:"errorCodeDescription"`
	CauseMessage         string `json:"causeMessage"`
}

// OAuthError is the token endpoint's (and the bearer check's) error body.
type OAuthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// AsyncOperation is the answer of the async register and status calls.
//
// The shape of the instance's address is not published: Host may be a host
// name, a "host:port" or a URL, Port a number, a string of digits or absent.
type AsyncOperation struct {
	ID                int64  `json:"id"`
	ExternalReference string `json:"externalReference"`
	Status            string `json:"status"`
	Host              string `json:"host"`
	Port              Port   `json:"port"`
}

// Port is a TCP port written as a JSON number or a string of digits; ""
// when absent, null, zero or not a port.
type Port string

// UnmarshalJSON accepts 8081, "8081" and null; anything else reads as absent.
func (p *Port) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = ""
	var s string
	switch x := v.(type) {
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		s = strings.TrimSpace(x)
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= 65535 {
		*p = Port(strconv.Itoa(n))
	}
	return nil
}

// MarshalJSON writes a number (null when absent).
func (p Port) MarshalJSON() ([]byte, error) {
	if p == "" {
		return []byte("null"), nil
	}
	return []byte(p), nil
}

// Folder is SignOperation.folder.
type Folder struct {
	FolderID          string `json:"folderId"`
	ExternalReference string `json:"externalReference"`
	Description       string `json:"description"`
	FolderContent     string `json:"folderContent"`
}

// Operation is a SignOperation without its documentList (which is streamed).
type Operation struct {
	ID                       int64   `json:"id"`
	Type                     string  `json:"type"`
	Status                   string  `json:"status"`
	IssuerClientServiceAlias string  `json:"issuerClientServiceAlias,omitempty"`
	CreationDate             string  `json:"creationDate,omitempty"`
	FolderExternalReference  string  `json:"folderExternalReference,omitempty"`
	Folder                   *Folder `json:"folder,omitempty"`
	ExecutionTime            *int64  `json:"executionTime,omitempty"`
}

// DocumentResponse is one documentList entry without its signedContent
// (which is streamed).
type DocumentResponse struct {
	ExternalReference string `json:"externalReference"`
	Name              string `json:"name"`
	ContentType       string `json:"contentType"`
	InternalID        int64  `json:"internalId,omitempty"`
	SignStatus        string `json:"signStatus"`
	SignError         string `json:"signError,omitempty"`
	CipherStatus      string `json:"cipherStatus,omitempty"`
	StorageStatus     string `json:"storageStatus,omitempty"`
	ContentLength     int64  `json:"contentLength"`
	ReceptionDate     string `json:"receptionDate,omitempty"`
}

// VisibleSignatureInfo is SignatureInfo.visibleSignatureInfo.
type VisibleSignatureInfo struct {
	TemplateType  string `json:"templateType,omitempty"`
	LocationType  string `json:"locationType"`
	LocationValue string `json:"locationValue"`
	Area          string `json:"area,omitempty"`
}

// SignatureInfo is documents[].signatureInfo.
type SignatureInfo struct {
	SignatureType        string                `json:"signatureType"`
	Reason               string                `json:"reason,omitempty"`
	Location             string                `json:"location,omitempty"`
	ApplyTimestamp       bool                  `json:"applyTimestamp"`
	VisibleSignatureInfo *VisibleSignatureInfo `json:"visibleSignatureInfo,omitempty"`
}

// OpenObject marshals v (a struct encoding as a JSON object) without its
// closing brace, so streamed fields can be appended after it. The result
// ends with '{' or with a value, never with a comma.
func OpenObject(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with plain structs
	}
	return b[:len(b)-1]
}

// Sep returns "," unless the open object is still empty.
func Sep(open []byte) string {
	if len(open) > 0 && open[len(open)-1] == '{' {
		return ""
	}
	return ","
}

// Quote returns s as a JSON string literal.
func Quote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// ContentType returns the service's content type for a file name: the
// service accepts only PDF and XML.
func ContentType(name string) (string, bool) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".pdf":
		return "application/pdf", true
	case ".xml":
		return "text/xml", true
	}
	return "", false
}

// MediaType strips parameters from a Content-Type header value.
func MediaType(v string) string {
	mt, _, err := mime.ParseMediaType(v)
	if err != nil {
		return strings.TrimSpace(strings.ToLower(v))
	}
	return mt
}
