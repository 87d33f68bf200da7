package policy

import (
	"net/url"
	"strings"
)

// Field is one header line or query parameter.
type Field struct {
	Name, Value string
}

// Header is an ordered list of header fields whose names compare case-insensitively, as HTTP's
// do. It keeps repeated fields as sent, which APIM's string[] values expose.
type Header struct {
	fields []Field
}

// Get returns the first value of name.
func (h *Header) Get(name string) (string, bool) {
	for _, f := range h.fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// Values returns every value of name, in order.
func (h *Header) Values(name string) []string {
	var vs []string
	for _, f := range h.fields {
		if strings.EqualFold(f.Name, name) {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// Add appends a field.
func (h *Header) Add(name, value string) { h.fields = append(h.fields, Field{name, value}) }

// Set replaces every value of name with value.
func (h *Header) Set(name, value string) {
	h.Del(name)
	h.Add(name, value)
}

// Del removes every value of name.
func (h *Header) Del(name string) {
	kept := h.fields[:0]
	for _, f := range h.fields {
		if !strings.EqualFold(f.Name, name) {
			kept = append(kept, f)
		}
	}
	clear(h.fields[len(kept):])
	h.fields = kept
}

// Fields returns the fields in order; the caller must not modify the slice.
func (h *Header) Fields() []Field { return h.fields }

// Len is the number of fields.
func (h *Header) Len() int { return len(h.fields) }

// Reset empties the header, keeping its storage for reuse.
func (h *Header) Reset() {
	clear(h.fields)
	h.fields = h.fields[:0]
}

// Query is an ordered list of query parameters; names compare exactly, as APIM's do.
type Query struct {
	fields []Field
}

// Get returns the first value of name.
func (q *Query) Get(name string) (string, bool) {
	for _, f := range q.fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

// Values returns every value of name.
func (q *Query) Values(name string) []string {
	var vs []string
	for _, f := range q.fields {
		if f.Name == name {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// Add appends a parameter.
func (q *Query) Add(name, value string) { q.fields = append(q.fields, Field{name, value}) }

// Set replaces every value of name.
func (q *Query) Set(name, value string) {
	q.Del(name)
	q.Add(name, value)
}

// Del removes every value of name.
func (q *Query) Del(name string) {
	kept := q.fields[:0]
	for _, f := range q.fields {
		if f.Name != name {
			kept = append(kept, f)
		}
	}
	clear(q.fields[len(kept):])
	q.fields = kept
}

// Fields returns the parameters in order; the caller must not modify the slice.
func (q *Query) Fields() []Field { return q.fields }

// Reset empties the query, keeping its storage.
func (q *Query) Reset() {
	clear(q.fields)
	q.fields = q.fields[:0]
}

// Encode is the query string without the leading '?'.
func (q Query) Encode() string {
	if len(q.fields) == 0 {
		return ""
	}
	var b strings.Builder
	for i, f := range q.fields {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(f.Name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(f.Value))
	}
	return b.String()
}

// ParseQuery reads a raw query string (without '?'); malformed escapes are kept as sent.
func ParseQuery(raw string) Query {
	var q Query
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if v, err := url.QueryUnescape(value); err == nil {
			value = v
		}
		q.Add(name, value)
	}
	return q
}
