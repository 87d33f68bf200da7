package config

import (
	"errors"
	"fmt"
	"strings"
)

// SegmentKind says how one segment of a URL template matches.
type SegmentKind uint8

const (
	// Literal matches the segment's text exactly.
	Literal SegmentKind = iota
	// Param ({name}) matches any one non-empty segment.
	Param
	// Wildcard ({*name}) matches the rest of the path, possibly empty; it is always last.
	Wildcard
)

// Segment is one '/'-separated part of a URL template.
type Segment struct {
	Kind SegmentKind
	// Text is the literal text, or the parameter's name.
	Text string
}

// Template is an APIM operation URL template such as /items/{id} or /files/{*path}.
type Template struct {
	Source   string
	Segments []Segment
}

// ErrTemplate is wrapped by template syntax errors.
var ErrTemplate = errors.New("malformed URL template")

// ParseTemplate parses an APIM URL template. Parameters stand for whole segments; a {*name}
// wildcard may only be the last segment; names are unique. A query part (after '?') is not
// supported yet and is refused rather than ignored.
func ParseTemplate(src string) (Template, error) {
	t := Template{Source: src}
	if !strings.HasPrefix(src, "/") {
		return t, fmt.Errorf("%w: %q must start with /", ErrTemplate, src)
	}
	if strings.ContainsAny(src, "?#") {
		return t, fmt.Errorf("%w: %q: query parameters and fragments in templates are not supported", ErrTemplate, src)
	}
	rest := src[1:]
	if rest == "" {
		return t, nil
	}
	seen := map[string]bool{}
	parts := strings.Split(rest, "/")
	for i, p := range parts {
		switch {
		case p == "" && i == len(parts)-1:
			// A trailing slash is part of the template: /items/ matches /items/ only.
			t.Segments = append(t.Segments, Segment{Kind: Literal})
			continue
		case p == "":
			return t, fmt.Errorf("%w: %q has an empty segment (//)", ErrTemplate, src)
		case p == "." || p == "..":
			return t, fmt.Errorf("%w: %q: segments . and .. are not allowed", ErrTemplate, src)
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
			name := p[1 : len(p)-1]
			kind := Param
			if strings.HasPrefix(name, "*") {
				kind, name = Wildcard, name[1:]
				if i != len(parts)-1 {
					return t, fmt.Errorf("%w: %q: {*%s} must be the last segment", ErrTemplate, src, name)
				}
			}
			if !validParamName(name) {
				return t, fmt.Errorf("%w: %q: parameter name %q must be letters, digits, - or _", ErrTemplate, src, name)
			}
			if seen[name] {
				return t, fmt.Errorf("%w: %q: parameter {%s} appears twice", ErrTemplate, src, name)
			}
			seen[name] = true
			t.Segments = append(t.Segments, Segment{Kind: kind, Text: name})
		case strings.ContainsAny(p, "{}"):
			return t, fmt.Errorf("%w: %q: segment %q: a parameter must be a whole segment, {name} or {*name}", ErrTemplate, src, p)
		default:
			t.Segments = append(t.Segments, Segment{Kind: Literal, Text: p})
		}
	}
	return t, nil
}

func validParamName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Key is the template with parameter names erased, so that /a/{x} and /a/{y} compare equal.
func (t Template) Key() string {
	var b strings.Builder
	for _, s := range t.Segments {
		b.WriteByte('/')
		switch s.Kind {
		case Param:
			b.WriteString("{}")
		case Wildcard:
			b.WriteString("{*}")
		default:
			b.WriteString(s.Text)
		}
	}
	if len(t.Segments) == 0 {
		b.WriteByte('/')
	}
	return b.String()
}
