package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/signagent/signagent/signing"
)

// signatureInfo is documents[].signatureInfo with every documented field,
// so that a strict emulator refuses only what the schema does not have.
type signatureInfo struct {
	SignatureType         string        `json:"signatureType"`
	VisibleSignatureInfo  *visibleInfo  `json:"visibleSignatureInfo,omitempty"`
	Reason                string        `json:"reason,omitempty"`
	Location              string        `json:"location,omitempty"`
	ApplyTimestamp        bool          `json:"applyTimestamp"`
	AdvancedSignatureInfo *advancedInfo `json:"advancedSignatureInfo,omitempty"`
}

// visibleInfo is SignatureInfo.visibleSignatureInfo.
type visibleInfo struct {
	TemplateType        string `json:"templateType,omitempty"`
	OneOffTemplate      string `json:"oneOffTemplate,omitempty"`
	LocationType        string `json:"locationType"`
	LocationValue       string `json:"locationValue"`
	Area                string `json:"area,omitempty"`
	AreaBackgroundColor string `json:"areaBackgroundColor,omitempty"`
	Font                string `json:"font,omitempty"`
	ImageType           string `json:"imageType,omitempty"`
	ImageValue          string `json:"imageValue,omitempty"`
}

// advancedInfo is SignatureInfo.advancedSignatureInfo (XML only).
type advancedInfo struct {
	SignatureLocation  string `json:"signatureLocation,omitempty"`
	SignatureTransform string `json:"signatureTransform,omitempty"`
	CanonicalTransform string `json:"canonicalTransform,omitempty"`
}

// decodeStrict decodes one JSON value from b into v, refusing unknown
// fields (unless lenient) and anything after the value.
func decodeStrict(b []byte, v any, lenient bool) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if !lenient {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// Visible signature location types.
const (
	locCoordinate  = "COORDINATE"
	locSignField   = "SIGN_FIELD"
	locPlaceholder = "PLACEHOLDER"
)

// checkVisible validates a visible signature's grammar. A COORDINATE
// location is returned; SIGN_FIELD and PLACEHOLDER need the document and
// are resolved by locate.
func checkVisible(v *visibleInfo) (*signing.Visible, error) {
	if v == nil {
		return nil, nil
	}
	w, h := 155.0, 50.0
	if v.Area != "" {
		a, err := kv(v.Area, "width", "height")
		if err != nil {
			return nil, invalid("visibleSignatureInfo.area %q: %v (want width=<w>,height=<h>)", v.Area, err)
		}
		w, h = a["width"], a["height"]
	}
	switch v.LocationType {
	case locCoordinate:
	case locSignField, locPlaceholder:
		if strings.TrimSpace(v.LocationValue) == "" {
			return nil, missing("visibleSignatureInfo.locationValue")
		}
		return nil, nil
	case "":
		return nil, missing("visibleSignatureInfo.locationType")
	default:
		return nil, invalid("visibleSignatureInfo.locationType %q is not one of SIGN_FIELD, COORDINATE, PLACEHOLDER", v.LocationType)
	}
	loc, err := kv(v.LocationValue, "page", "x", "y")
	if err != nil {
		return nil, invalid("visibleSignatureInfo.locationValue %q: %v (want page=<n>,x=<x>,y=<y>)", v.LocationValue, err)
	}
	out := &signing.Visible{Page: int(loc["page"]), X: loc["x"], Y: loc["y"], W: w, H: h}
	if out.Page < 1 || float64(out.Page) != loc["page"] {
		return nil, invalid("visibleSignatureInfo.locationValue %q: page must be a whole number, 1 or more", v.LocationValue)
	}
	return out, nil
}

// locate resolves the SIGN_FIELD and PLACEHOLDER locations of a request's
// PDF documents against their content. A field or word that is not in the
// document fails the whole request with 400 / 2.2.1, the service's code
// for visible-signature elements (the documentation says only "error if
// not found"; the status is inferred).
func locate(req *signRequest) error {
	for i, d := range req.docs {
		v := d.sig.VisibleSignatureInfo
		if v == nil || d.sig.SignatureType != "PAdES" || (v.LocationType != locSignField && v.LocationType != locPlaceholder) {
			continue
		}
		b, err := os.ReadFile(d.in)
		if err != nil {
			return &apiError{code: "0.0.1", cause: "cannot read document: " + err.Error()}
		}
		var loc location
		pdf, err := readPDF(b)
		if err == nil {
			if v.LocationType == locSignField {
				loc, err = pdf.findField(v.LocationValue)
			} else {
				loc, err = pdf.findWord(v.LocationValue)
			}
		}
		if err != nil {
			return &apiError{status: http.StatusBadRequest, code: "2.2.1",
				cause: fmt.Sprintf("Document %s signature (documents[%d], %s %q): %v.", d.name, i, v.LocationType, v.LocationValue, err)}
		}
		vis := &signing.Visible{Page: loc.page, X: loc.x, Y: loc.y, W: 155, H: 50}
		if v.LocationType == locSignField {
			vis.W, vis.H = loc.w, loc.h // the field's own rectangle
		} else if v.Area != "" {
			a, _ := kv(v.Area, "width", "height")
			vis.W, vis.H = a["width"], a["height"]
		}
		d.vis = vis
	}
	return nil
}
