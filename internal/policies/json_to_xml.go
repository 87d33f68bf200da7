package policies

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"portcullis/internal/policy"
)

// jsonToXML is json-to-xml: a JSON body becomes XML under a <Document> root, each property an
// element and each array item a repeated element, as Json.NET's DeserializeXNode writes it.
type jsonToXML struct {
	target         messageTarget
	apply          *policy.Value // always | content-type-json
	considerAccept *policy.Value // nil: true
}

func compileJSONToXML(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "apply", "consider-accept-header", "parse-date",
		"namespace-separator", "namespace-prefix", "attribute-block-name")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	if err := onlyIn(el, c, policy.SectionInbound, policy.SectionOutbound, policy.SectionOnError); err != nil {
		return nil, err
	}
	j := &jsonToXML{target: sectionTarget(c)}
	if j.apply, err = r.value("apply", true); err != nil {
		return nil, err
	}
	if !j.apply.IsExpr() {
		if _, err := parseApply(j.apply.Const, "content-type-json"); err != nil {
			return nil, policy.Errorf(j.apply.Pos, "<json-to-xml> %v", err)
		}
	}
	if j.considerAccept, err = r.boolValue("consider-accept-header"); err != nil {
		return nil, err
	}
	if _, err := r.constBool("parse-date", true); err != nil {
		return nil, err
	}
	for _, n := range []string{"namespace-separator", "namespace-prefix", "attribute-block-name"} {
		if a, ok := el.Attr(n); ok {
			return nil, policy.Errorf(a.Pos, "<json-to-xml> %s is not supported", n)
		}
	}
	return j, nil
}

func (j *jsonToXML) Run(ctx *policy.Context) error {
	h := targetHeader(ctx, j.target)
	ok, err := conversionApplies(ctx, h, j.apply, j.considerAccept, "content-type-json", "json", "xml")
	if err != nil || !ok {
		return err
	}
	body := targetBody(ctx, j.target)
	data, err := body.Bytes()
	if err != nil {
		return err
	}
	out, err := jsonDocumentToXML(data)
	if err != nil {
		return fmt.Errorf("json-to-xml: %w", err)
	}
	body.Set(out)
	h.Set("Content-Type", "application/xml")
	return nil
}

// parseApply reads apply: "always", or the content-type condition (true when conditional).
func parseApply(s, conditional string) (bool, error) {
	switch strings.TrimSpace(s) {
	case "always":
		return false, nil
	case conditional:
		return true, nil
	}
	return false, fmt.Errorf("apply must be always or %s, found %q", conditional, s)
}

// conversionApplies decides json-to-xml and xml-to-json: apply's content-type condition on
// the message (from), and consider-accept-header's wish of the client (to).
func conversionApplies(ctx *policy.Context, h *policy.Header, apply, considerAccept *policy.Value, conditional, from, to string) (bool, error) {
	a, err := evalString(ctx, apply)
	if err != nil {
		return false, err
	}
	onlyTyped, err := parseApply(a, conditional)
	if err != nil {
		return false, err
	}
	if onlyTyped && !contentTypeHas(h, from) {
		return false, nil
	}
	consider, err := evalBool(ctx, considerAccept, "consider-accept-header", true)
	if err != nil {
		return false, err
	}
	if consider {
		if accept, ok := ctx.Request.Header.Get("Accept"); ok && !strings.Contains(strings.ToLower(accept), to) {
			return false, nil
		}
	}
	return true, nil
}

func contentTypeHas(h *policy.Header, kind string) bool {
	ct, _ := h.Get("Content-Type")
	return strings.Contains(strings.ToLower(ct), kind)
}

// jsonDocumentToXML converts keeping the order of properties.
func jsonDocumentToXML(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var b bytes.Buffer
	b.WriteString("<Document>")
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("the body is not JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			err = writeJSONObject(dec, &b, 1)
		} else {
			err = writeJSONArrayItems(dec, &b, "Item", 1)
		}
	default:
		writeXMLText(&b, jsonScalar(t))
	}
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("the body holds more than one JSON value")
	}
	b.WriteString("</Document>")
	return b.Bytes(), nil
}

const maxJSONDepth = 256

func writeJSONObject(dec *json.Decoder, b *bytes.Buffer, depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("the JSON nests deeper than %d levels", maxJSONDepth)
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		name := xmlName(kt.(string))
		if err := writeJSONValue(dec, b, name, depth); err != nil {
			return err
		}
	}
	_, err := dec.Token() // }
	return err
}

func writeJSONValue(dec *json.Decoder, b *bytes.Buffer, name string, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); ok {
		if d == '[' {
			return writeJSONArrayItems(dec, b, name, depth+1)
		}
		b.WriteString("<" + name + ">")
		if err := writeJSONObject(dec, b, depth+1); err != nil {
			return err
		}
		b.WriteString("</" + name + ">")
		return nil
	}
	if tok == nil {
		b.WriteString("<" + name + " />")
		return nil
	}
	b.WriteString("<" + name + ">")
	writeXMLText(b, jsonScalar(tok))
	b.WriteString("</" + name + ">")
	return nil
}

func writeJSONArrayItems(dec *json.Decoder, b *bytes.Buffer, name string, depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("the JSON nests deeper than %d levels", maxJSONDepth)
	}
	for dec.More() {
		if err := writeJSONValue(dec, b, name, depth); err != nil {
			return err
		}
	}
	_, err := dec.Token() // ]
	return err
}

func jsonScalar(tok json.Token) string {
	switch t := tok.(type) {
	case bool:
		if t {
			return "true"
		}
		return "false"
	case json.Number:
		return t.String()
	case string:
		return t
	}
	return ""
}

func writeXMLText(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s))
}

// xmlName encodes what XML does not allow in a name as _xHHHH_, as .NET's XmlConvert does.
func xmlName(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	for i, r := range s {
		ok := r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 0x7f
		if i > 0 {
			ok = ok || r == '-' || r == '.' || r >= '0' && r <= '9'
		}
		if ok {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "_x%04X_", r)
		}
	}
	return b.String()
}
