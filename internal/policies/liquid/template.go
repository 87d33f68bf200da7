package liquid

import (
	"errors"
	"fmt"
	"strings"
)

// MaxOutput bounds what one rendering may produce, so a loop over a large body cannot
// exhaust memory.
const MaxOutput = 16 << 20

// ErrOutputTooLarge is returned when a rendering passes MaxOutput.
var ErrOutputTooLarge = errors.New("liquid: the output exceeds 16 MiB")

// SyntaxError is a template that cannot be parsed; Line is 1-based within the template.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("liquid line %d: %s", e.Line, e.Msg) }

// Template is a parsed template, safe for concurrent rendering.
type Template struct {
	nodes []node
}

// Parse parses src.
func Parse(src string) (*Template, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	nodes, end, err := p.block()
	if err != nil {
		return nil, err
	}
	if end != nil {
		return nil, &SyntaxError{Line: end.line, Msg: fmt.Sprintf("{%% %s %%} has no opening tag", end.name)}
	}
	return &Template{nodes: nodes}, nil
}

// Render writes the template with vars as its top-level names (e.g. "context", "body").
func (t *Template) Render(vars map[string]any) (string, error) {
	r := &renderer{scope: map[string]any{}}
	for k, v := range vars {
		r.scope[k] = v
	}
	if err := r.run(t.nodes); err != nil {
		return "", err
	}
	return r.out.String(), nil
}

// --- tokens ---

type tokKind int

const (
	tokText tokKind = iota
	tokOutput
	tokTag
)

type token struct {
	kind tokKind
	text string // raw text, or the markup inside {{ }} / {% %}
	line int
}

func tokenize(src string) ([]token, error) {
	var toks []token
	line := 1
	trimNext := false
	for len(src) > 0 {
		i := indexOpen(src)
		if i < 0 {
			toks = append(toks, textToken(src, line, trimNext, false))
			break
		}
		open := src[i : i+2]
		trimPrev := i+2 < len(src) && src[i+2] == '-'
		toks = append(toks, textToken(src[:i], line, trimNext, trimPrev))
		line += strings.Count(src[:i], "\n")
		closeTok := "}}"
		kind := tokOutput
		if open == "{%" {
			closeTok, kind = "%}", tokTag
		}
		rest := src[i+2:]
		j := strings.Index(rest, closeTok)
		if j < 0 {
			return nil, &SyntaxError{Line: line, Msg: fmt.Sprintf("%s is never closed with %s", open, closeTok)}
		}
		inner := rest[:j]
		trimNext = strings.HasSuffix(inner, "-")
		inner = strings.TrimSuffix(strings.TrimPrefix(inner, "-"), "-")
		toks = append(toks, token{kind: kind, text: strings.TrimSpace(inner), line: line})
		line += strings.Count(rest[:j], "\n")
		src = rest[j+2:]
		if kind == tokTag && isRawTag(inner) {
			k := strings.Index(src, "{%")
			for k >= 0 && !isEndRaw(src[k:]) {
				n := strings.Index(src[k+2:], "{%")
				if n < 0 {
					k = -1
					break
				}
				k += 2 + n
			}
			if k < 0 {
				return nil, &SyntaxError{Line: line, Msg: "{% raw %} has no {% endraw %}"}
			}
			toks = append(toks, token{kind: tokText, text: src[:k], line: line})
			line += strings.Count(src[:k], "\n")
			src = src[k:]
			trimNext = false
		}
	}
	return toks, nil
}

func isRawTag(inner string) bool {
	return strings.TrimSpace(strings.Trim(inner, "-")) == "raw"
}

func isEndRaw(s string) bool {
	e := strings.Index(s, "%}")
	return e > 0 && strings.TrimSpace(strings.Trim(s[2:e], "-")) == "endraw"
}

func indexOpen(s string) int {
	a, b := strings.Index(s, "{{"), strings.Index(s, "{%")
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return min(a, b)
}

func textToken(s string, line int, trimLeft, trimRight bool) token {
	if trimLeft {
		s = strings.TrimLeft(s, " \t\r\n")
	}
	if trimRight {
		s = strings.TrimRight(s, " \t\r\n")
	}
	return token{kind: tokText, text: s, line: line}
}

// --- nodes ---

type node interface{}

type textNode string

type outputNode struct{ e *filtered }

type assignNode struct {
	name string
	e    *filtered
}

type branch struct {
	cond  cond // nil: else
	nodes []node
}

type ifNode struct{ branches []branch }

type forNode struct {
	item     string
	coll     expr
	limit    expr
	offset   expr
	reversed bool
	body     []node
	empty    []node
}

type endTag struct {
	name string
	args string
	line int
}

type parser struct {
	toks []token
	pos  int
}

// block parses nodes until a tag it does not own (end, else, elsif, …), returned as end.
func (p *parser) block() ([]node, *endTag, error) {
	var nodes []node
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		p.pos++
		switch t.kind {
		case tokText:
			if t.text != "" {
				nodes = append(nodes, textNode(t.text))
			}
		case tokOutput:
			e, err := parseFiltered(t.text, t.line)
			if err != nil {
				return nil, nil, err
			}
			nodes = append(nodes, outputNode{e})
		case tokTag:
			name, args, _ := strings.Cut(t.text, " ")
			args = strings.TrimSpace(args)
			switch name {
			case "if", "unless":
				n, err := p.ifBlock(name, args, t.line)
				if err != nil {
					return nil, nil, err
				}
				nodes = append(nodes, n)
			case "for":
				n, err := p.forBlock(args, t.line)
				if err != nil {
					return nil, nil, err
				}
				nodes = append(nodes, n)
			case "assign":
				target, value, ok := strings.Cut(args, "=")
				target = strings.TrimSpace(target)
				if !ok || !isIdent(target) {
					return nil, nil, &SyntaxError{Line: t.line, Msg: "assign needs name = value"}
				}
				e, err := parseFiltered(value, t.line)
				if err != nil {
					return nil, nil, err
				}
				nodes = append(nodes, assignNode{name: target, e: e})
			case "comment":
				if err := p.skipUntil("endcomment", t.line); err != nil {
					return nil, nil, err
				}
			case "raw":
				if p.pos < len(p.toks) && p.toks[p.pos].kind == tokText {
					nodes = append(nodes, textNode(p.toks[p.pos].text))
					p.pos++
				}
				if err := p.skipUntil("endraw", t.line); err != nil {
					return nil, nil, err
				}
			case "endif", "endunless", "endfor", "else", "elsif", "endcomment", "endraw":
				return nodes, &endTag{name: name, args: args, line: t.line}, nil
			default:
				return nil, nil, &SyntaxError{Line: t.line, Msg: fmt.Sprintf("the tag {%% %s %%} is not supported", name)}
			}
		}
	}
	return nodes, nil, nil
}

func (p *parser) skipUntil(end string, line int) error {
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		p.pos++
		if t.kind == tokTag && strings.Fields(t.text + " ")[0] == end {
			return nil
		}
	}
	return &SyntaxError{Line: line, Msg: "missing {% " + end + " %}"}
}

func (p *parser) ifBlock(name, args string, line int) (node, error) {
	endName := "end" + name
	c, err := parseCond(args, line)
	if err != nil {
		return nil, err
	}
	if name == "unless" {
		c = notCond{c}
	}
	n := ifNode{}
	cur := branch{cond: c}
	for {
		nodes, end, err := p.block()
		if err != nil {
			return nil, err
		}
		cur.nodes = nodes
		n.branches = append(n.branches, cur)
		if end == nil {
			return nil, &SyntaxError{Line: line, Msg: fmt.Sprintf("{%% %s %%} has no {%% %s %%}", name, endName)}
		}
		switch end.name {
		case endName:
			return n, nil
		case "elsif":
			if c, err = parseCond(end.args, end.line); err != nil {
				return nil, err
			}
			cur = branch{cond: c}
		case "else":
			cur = branch{}
		default:
			return nil, &SyntaxError{Line: end.line, Msg: fmt.Sprintf("{%% %s %%} inside {%% %s %%}", end.name, name)}
		}
	}
}

func (p *parser) forBlock(args string, line int) (node, error) {
	lx := &lexer{src: args, line: line}
	item := lx.next()
	in := lx.next()
	if item.kind != lexIdent || in.kind != lexIdent || in.text != "in" {
		return nil, &SyntaxError{Line: line, Msg: "for needs: item in collection"}
	}
	coll, err := parseRangeOrPrimary(lx)
	if err != nil {
		return nil, err
	}
	n := &forNode{item: item.text, coll: coll}
	for {
		t := lx.next()
		if t.kind == lexEOF {
			break
		}
		if t.kind != lexIdent {
			return nil, &SyntaxError{Line: line, Msg: fmt.Sprintf("unexpected %q in for", t.text)}
		}
		switch t.text {
		case "reversed":
			n.reversed = true
		case "limit", "offset":
			if c := lx.next(); c.text != ":" {
				return nil, &SyntaxError{Line: line, Msg: t.text + " needs a colon and a number"}
			}
			e, err := parsePrimary(lx)
			if err != nil {
				return nil, err
			}
			if t.text == "limit" {
				n.limit = e
			} else {
				n.offset = e
			}
		default:
			return nil, &SyntaxError{Line: line, Msg: fmt.Sprintf("unexpected %q in for", t.text)}
		}
	}
	body, end, err := p.block()
	if err != nil {
		return nil, err
	}
	if end != nil && end.name == "else" {
		n.body = body
		if n.empty, end, err = p.block(); err != nil {
			return nil, err
		}
	} else {
		n.body = body
	}
	if end == nil || end.name != "endfor" {
		return nil, &SyntaxError{Line: line, Msg: "{% for %} has no {% endfor %}"}
	}
	return n, nil
}

// --- rendering ---

type renderer struct {
	scope map[string]any
	out   strings.Builder
}

func (r *renderer) write(s string) error {
	if r.out.Len()+len(s) > MaxOutput {
		return ErrOutputTooLarge
	}
	r.out.WriteString(s)
	return nil
}

func (r *renderer) run(nodes []node) error {
	for _, n := range nodes {
		switch x := n.(type) {
		case textNode:
			if err := r.write(string(x)); err != nil {
				return err
			}
		case outputNode:
			v, err := x.e.eval(r)
			if err != nil {
				return err
			}
			if err := r.write(Text(v)); err != nil {
				return err
			}
		case assignNode:
			v, err := x.e.eval(r)
			if err != nil {
				return err
			}
			r.scope[x.name] = v
		case ifNode:
			for _, b := range x.branches {
				ok := true
				if b.cond != nil {
					v, err := b.cond.test(r)
					if err != nil {
						return err
					}
					ok = v
				}
				if ok {
					if err := r.run(b.nodes); err != nil {
						return err
					}
					break
				}
			}
		case *forNode:
			if err := r.runFor(x); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *renderer) runFor(f *forNode) error {
	coll, err := f.coll.eval(r)
	if err != nil {
		return err
	}
	list := items(coll)
	if f.offset != nil {
		v, err := f.offset.eval(r)
		if err != nil {
			return err
		}
		n, _ := toNumber(v)
		list = list[min(max(int(n), 0), len(list)):]
	}
	if f.limit != nil {
		v, err := f.limit.eval(r)
		if err != nil {
			return err
		}
		n, _ := toNumber(v)
		list = list[:min(max(int(n), 0), len(list))]
	}
	if f.reversed {
		rev := make([]any, len(list))
		for i, it := range list {
			rev[len(list)-1-i] = it
		}
		list = rev
	}
	if len(list) == 0 {
		return r.run(f.empty)
	}
	saved, had := r.scope[f.item]
	savedLoop, hadLoop := r.scope["forloop"]
	for i, it := range list {
		r.scope[f.item] = it
		r.scope["forloop"] = map[string]any{
			"index": float64(i + 1), "index0": float64(i), "first": i == 0, "last": i == len(list)-1,
			"length": float64(len(list)), "rindex": float64(len(list) - i), "rindex0": float64(len(list) - i - 1),
		}
		if err := r.run(f.body); err != nil {
			return err
		}
	}
	restore(r.scope, f.item, saved, had)
	restore(r.scope, "forloop", savedLoop, hadLoop)
	return nil
}

func restore(scope map[string]any, k string, v any, had bool) {
	if had {
		scope[k] = v
	} else {
		delete(scope, k)
	}
}
