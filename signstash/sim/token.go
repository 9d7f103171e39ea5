package sim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

type claims struct {
	ClientID string   `json:"client_id"`
	Scope    []string `json:"scope"`
	Exp      int64    `json:"exp"`
	JTI      string   `json:"jti"`
}

var b64url = base64.RawURLEncoding

func newJTI() string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (s *Server) issueToken(alias string) (string, string) {
	c := claims{ClientID: alias, Scope: []string{"read", "write"}, Exp: s.now().Add(s.cfg.TokenLifetime).Unix(), JTI: newJTI()}
	head := b64url.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, _ := json.Marshal(c)
	msg := head + "." + b64url.EncodeToString(body)
	m := hmac.New(sha256.New, s.cfg.TokenKey)
	m.Write([]byte(msg))
	return msg + "." + b64url.EncodeToString(m.Sum(nil)), c.JTI
}

var errBadToken = errors.New("invalid access token")

func (s *Server) verifyToken(tok string) (claims, error) {
	var c claims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, errBadToken
	}
	m := hmac.New(sha256.New, s.cfg.TokenKey)
	m.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := b64url.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
		return c, errBadToken
	}
	body, err := b64url.DecodeString(parts[1])
	if err != nil || json.Unmarshal(body, &c) != nil {
		return c, errBadToken
	}
	if s.now().Unix() >= c.Exp {
		return c, errors.New("access token expired")
	}
	return c, nil
}

// handleToken serves POST /oauth2/authorization-server/oauth/token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, oauthErr("method_not_allowed", "use POST"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil { // merges query and form body
		writeJSON(w, http.StatusBadRequest, oauthErr("invalid_request", "malformed body"))
		return
	}
	// The documented call carries Basic base64(alias:secret) of the raw
	// values: compared as they are, never form-decoded.
	alias, secret, ok := r.BasicAuth()
	if !ok && s.cfg.Lenient {
		alias, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	s.mu.Lock()
	cl, known := s.clients[alias]
	s.mu.Unlock()
	if alias == "" || !known || subtle.ConstantTimeCompare([]byte(secret), []byte(cl.Secret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth2/client"`)
		writeJSON(w, http.StatusUnauthorized, oauthErr("unauthorized", "Bad credentials"))
		return
	}
	if gt := r.Form.Get("grant_type"); gt != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, oauthErr("unsupported_grant_type", "Unsupported grant type: "+gt))
		return
	}
	tok, jti := s.issueToken(alias)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   int64(s.cfg.TokenLifetime / time.Second),
		"scope":        "read write",
		"jti":          jti,
	})
}

func oauthErr(code, desc string) map[string]string {
	return map[string]string{"error": code, "error_description": desc}
}
