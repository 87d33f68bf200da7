package graph

import (
	"strconv"
	"strings"
)

// clause is one condition of a $filter: prop eq 'value', startswith(prop,'value'), or
// coll/any(x:x eq 'value').
type clause struct {
	prop   string
	any    bool
	prefix bool
	value  string
}

// maxFilterLen bounds the $filter text.
const maxFilterLen = 2048

// parseFilter reads the $filter subset Portcullis supports: clauses joined by "and", each
// `prop eq 'value'`, `startswith(prop,'value')` or `collection/any(x:x eq 'value')`.
func parseFilter(s string) ([]clause, error) {
	if len(s) > maxFilterLen {
		return nil, unsupportedQuery("The $filter is longer than %d characters.", maxFilterLen)
	}
	p := &filterParser{s: s}
	var out []clause
	for {
		c, err := p.clause()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		p.space()
		if p.eof() {
			return out, nil
		}
		if !p.word("and") {
			return nil, unsupportedQuery("Unsupported $filter near '%s': only 'eq' conditions joined by 'and' are supported.", clip(p.rest()))
		}
	}
}

type filterParser struct {
	s string
	i int
}

func (p *filterParser) eof() bool    { return p.i >= len(p.s) }
func (p *filterParser) rest() string { return p.s[p.i:] }

func (p *filterParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// word consumes a keyword followed by a space.
func (p *filterParser) word(w string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.i:], w+" ") {
		p.i += len(w) + 1
		return true
	}
	return false
}

func (p *filterParser) ident() string {
	p.space()
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

func (p *filterParser) literal(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *filterParser) str() (string, error) {
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '\'' {
		return "", unsupportedQuery("Unsupported $filter near '%s': a quoted string was expected.", clip(p.rest()))
	}
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		if c != '\'' {
			b.WriteByte(c)
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '\'' {
			b.WriteByte('\'')
			p.i++
			continue
		}
		return b.String(), nil
	}
	return "", unsupportedQuery("Unsupported $filter: a string is not closed.")
}

func (p *filterParser) clause() (clause, error) {
	prop := p.ident()
	if prop == "startswith" && p.literal('(') {
		target := p.ident()
		if target == "" || !p.literal(',') {
			return clause{}, unsupportedQuery("Unsupported $filter: startswith(property,'prefix') expected.")
		}
		val, err := p.str()
		if err != nil {
			return clause{}, err
		}
		if !p.literal(')') {
			return clause{}, unsupportedQuery("Unsupported $filter: ')' expected after '%s'.", clip(val))
		}
		return clause{prop: target, prefix: true, value: val}, nil
	}
	if prop == "" {
		return clause{}, unsupportedQuery("Unsupported $filter near '%s': a property name was expected.", clip(p.rest()))
	}
	if p.literal('/') {
		// coll/any(x:x eq 'v')
		if p.ident() != "any" || !p.literal('(') {
			return clause{}, unsupportedQuery("Unsupported $filter: only %s/any(x:x eq 'value') is supported on a collection.", prop)
		}
		v := p.ident()
		if v == "" || !p.literal(':') || p.ident() != v {
			return clause{}, unsupportedQuery("Unsupported $filter: only %s/any(x:x eq 'value') is supported on a collection.", prop)
		}
		p.space()
		if !p.word("eq") {
			return clause{}, unsupportedQuery("Unsupported $filter: only 'eq' is supported.")
		}
		val, err := p.str()
		if err != nil {
			return clause{}, err
		}
		if !p.literal(')') {
			return clause{}, unsupportedQuery("Unsupported $filter: ')' expected after '%s'.", clip(val))
		}
		return clause{prop: prop, any: true, value: val}, nil
	}
	p.space()
	if !p.word("eq") {
		return clause{}, unsupportedQuery("Unsupported $filter near '%s': only 'eq' is supported.", clip(p.rest()))
	}
	val, err := p.str()
	if err != nil {
		return clause{}, err
	}
	return clause{prop: prop, value: val}, nil
}

// filterable names, for one resource, the values of each property a $filter may test.
type filterable[T any] map[string]struct {
	collection bool
	values     func(*T) []string
}

// listQuery applies $filter and $top to items. Options Graph has that Portcullis does not
// implement are refused, not ignored, so a script never gets an unfiltered answer.
func listQuery[T any](q *request, items []T, props filterable[T]) ([]T, error) {
	var clauses []clause
	top := -1
	for k, vs := range q.r.URL.Query() {
		if !strings.HasPrefix(k, "$") {
			continue
		}
		v := ""
		if len(vs) > 0 {
			v = vs[0]
		}
		switch k {
		case "$filter":
			cs, err := parseFilter(v)
			if err != nil {
				return nil, err
			}
			for _, c := range cs {
				p, ok := props[c.prop]
				if !ok || p.collection != c.any || (c.prefix && p.collection) {
					return nil, unsupportedQuery("Unsupported or invalid query filter clause specified for property '%s' of resource.", clip(c.prop))
				}
			}
			clauses = cs
		case "$top":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 999 {
				return nil, badRequest("Invalid page size specified: '%s'. Must be between 1 and 999 inclusive.", clip(v))
			}
			top = n
		case "$select", "$count":
			// Every property is returned; the count is the length of value.
		default:
			return nil, unsupportedQuery("The query option '%s' is not supported.", clip(k))
		}
	}
	out := make([]T, 0, len(items))
	for i := range items {
		if matches(&items[i], clauses, props) {
			out = append(out, items[i])
		}
	}
	if top >= 0 && len(out) > top {
		out = out[:top]
	}
	return out, nil
}

func matches[T any](item *T, clauses []clause, props filterable[T]) bool {
	for _, c := range clauses {
		found := false
		for _, v := range props[c.prop].values(item) {
			if strings.EqualFold(v, c.value) || c.prefix && len(v) >= len(c.value) && strings.EqualFold(v[:len(c.value)], c.value) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
