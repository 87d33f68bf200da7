package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// MaxFileSize bounds the configuration file: a gateway configuration is a few kilobytes, and a
// bound keeps a mistaken path (a log, a device) from being read whole.
const MaxFileSize = 4 << 20

// ErrInvalid is wrapped by every Error Load returns, for errors.Is.
var ErrInvalid = errors.New("invalid configuration")

// Load reads, substitutes, decodes and validates the configuration file at path. Paths in the
// result are absolute (resolved against the file's folder) and defaults are applied. On any
// problem it returns Errors naming the file (as path was given), line and column.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error(), Err: ErrInvalid}}
	}
	data, err := readBounded(abs)
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error(), Err: ErrInvalid}}
	}
	return parse(path, abs, data, os.LookupEnv)
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errors.New("configuration file does not exist")
		}
		return nil, fmt.Errorf("cannot open the configuration file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("configuration path is not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the configuration file: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("configuration file is larger than %d bytes", MaxFileSize)
	}
	return data, nil
}

// loader carries one load: the file's name for messages, where each value sits, and the
// problems found so far.
type loader struct {
	name   string // as the user gave it, for messages
	dir    string // absolute folder of the file
	lookup func(string) (string, bool)
	pos    map[string]*token.Position // "gateway.apis[0].name" → where its value starts
	errs   Errors
	// localCA is the CA file this configuration's own identity service creates at start
	// (DATA/tls/ca.pem, without identity.tls); gateway.trust may name it before it exists.
	localCA string
}

func parse(name, abs string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	l := &loader{name: name, dir: filepath.Dir(abs), lookup: lookup, pos: map[string]*token.Position{}}
	cfg := &Config{File: abs}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, Errors{l.yamlError(err)}
	}
	var body ast.Node
	switch {
	case len(file.Docs) > 1:
		return nil, Errors{l.errAt(nodePos(file.Docs[1]), "the file must hold one YAML document, found %d", len(file.Docs))}
	case len(file.Docs) == 1:
		body = file.Docs[0].Body
	}
	if body == nil {
		return nil, Errors{{File: name, Msg: "the file is empty: configure at least one of gateway, identity or admin", Err: ErrInvalid}}
	}
	l.walk(body, "")
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	if err := yaml.NodeToValue(body, cfg, yaml.DisallowUnknownField()); err != nil {
		return nil, Errors{l.yamlError(err)}
	}
	l.validate(cfg)
	if len(l.errs) > 0 {
		l.errs.sort()
		return nil, l.errs
	}
	return cfg, nil
}

// walk records where each value is and substitutes ${NAME} in scalar strings. Substituting in
// the tree (not the text) means a variable's value can never change the file's structure.
func (l *loader) walk(n ast.Node, path string) {
	if n == nil {
		return
	}
	if _, ok := n.(*ast.MappingValueNode); !ok {
		l.pos[path] = nodePos(n)
	}
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, mv := range n.Values {
			l.walk(mv, path)
		}
	case *ast.MappingValueNode:
		key := keyName(n.Key)
		p := key
		if path != "" {
			p = path + "." + key
		}
		l.walk(n.Value, p)
	case *ast.SequenceNode:
		for i, v := range n.Values {
			l.walk(v, fmt.Sprintf("%s[%d]", path, i))
		}
	case *ast.StringNode:
		n.Value = l.substitute(n, n.Value)
	case *ast.LiteralNode:
		if n.Value != nil {
			n.Value.Value = l.substitute(n, n.Value.Value)
		}
	case *ast.AnchorNode:
		l.walk(n.Value, path)
	case *ast.TagNode:
		l.walk(n.Value, path)
	case *ast.AliasNode:
		// Aliases can expand a small file into a huge document; a configuration never needs them.
		l.errs = append(l.errs, l.errAt(nodePos(n), "YAML aliases (*name) are not supported in the configuration"))
	}
}

// nodePos is where a value starts; for a block mapping, that is its first key.
func nodePos(n ast.Node) *token.Position {
	if d, ok := n.(*ast.DocumentNode); ok {
		switch {
		case d.Start != nil:
			return d.Start.Position
		case d.Body != nil:
			return nodePos(d.Body)
		}
		return nil
	}
	if m, ok := n.(*ast.MappingNode); ok && !m.IsFlowStyle && len(m.Values) > 0 {
		n = m.Values[0].Key
	}
	if m, ok := n.(*ast.MappingNode); ok && m.IsFlowStyle && m.Start != nil {
		return m.Start.Position
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Position
	}
	return nil
}

func keyName(k ast.MapKeyNode) string {
	if s, ok := k.(*ast.StringNode); ok {
		return s.Value
	}
	return k.String()
}

// substitute replaces ${NAME} with the environment variable NAME; "$${" stands for a literal
// "${". An unset variable is an error, never an empty string.
func (l *loader) substitute(n ast.Node, s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			l.errs = append(l.errs, l.errAt(nodePos(n), "unclosed ${ in value: write ${NAME}, or $${ for a literal ${"))
			return ""
		}
		name := s[i+2 : i+end]
		if !validEnvName(name) {
			l.errs = append(l.errs, l.errAt(nodePos(n), "%q is not an environment variable name: use letters, digits and _ inside ${...}", name))
			return ""
		}
		v, ok := l.lookup(name)
		if !ok {
			l.errs = append(l.errs, l.errAt(nodePos(n), "environment variable %s is not set", name))
			return ""
		}
		b.WriteString(v)
		s = s[i+end+1:]
	}
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func (l *loader) errAt(p *token.Position, format string, args ...any) *Error {
	e := &Error{File: l.name, Msg: fmt.Sprintf(format, args...), Err: ErrInvalid}
	if p != nil {
		e.Line, e.Col = p.Line, p.Column
	}
	return e
}

// yamlError turns the YAML library's error into ours, keeping its position and rewording the
// messages that would otherwise speak of Go types.
func (l *loader) yamlError(err error) *Error {
	e := &Error{File: l.name, Msg: err.Error(), Err: ErrInvalid}
	var ye yaml.Error
	if !errors.As(err, &ye) {
		return e
	}
	e.Msg = ye.GetMessage()
	if tk := ye.GetToken(); tk != nil && tk.Position != nil {
		e.Line, e.Col = tk.Position.Line, tk.Position.Column
	}
	var unknown *yaml.UnknownFieldError
	var typ *yaml.TypeError
	var unexpected *yaml.UnexpectedNodeTypeError
	switch {
	case errors.As(err, &unknown):
		e.Msg = strings.Replace(unknown.Message, "unknown field", "unknown key", 1)
	case errors.As(err, &typ):
		found := "a value"
		if typ.SrcType != nil {
			found = describeKind(typ.SrcType)
		}
		e.Msg = fmt.Sprintf("expected %s, found %s", describeKind(typ.DstType), found)
	case errors.As(err, &unexpected):
		e.Msg = fmt.Sprintf("expected %s, found %s", describeNode(unexpected.Expected), describeNode(unexpected.Actual))
	default:
		e.Msg += syntaxHint(e.Msg)
	}
	return e
}

// syntaxHint adds the likely fix to the YAML parser's terse messages for the usual mistakes.
func syntaxHint(msg string) string {
	switch {
	case strings.Contains(msg, "'}' must be specified"), strings.Contains(msg, "']' not found"):
		return ` (inside {…} or […], quote values that hold { } [ ] or a comma, e.g. template: "/items/{id}")`
	case strings.Contains(msg, "not allowed in this context"), strings.Contains(msg, "mapping value is not allowed"):
		return " (check this line's indentation against the keys around it)"
	}
	return ""
}

func describeNode(t ast.NodeType) string {
	switch t {
	case ast.MappingType, ast.MappingValueType:
		return "a mapping"
	case ast.SequenceType:
		return "a list"
	case ast.StringType, ast.LiteralType:
		return "a string"
	case ast.IntegerType:
		return "a whole number"
	case ast.FloatType:
		return "a number"
	case ast.BoolType:
		return "true or false"
	case ast.NullType:
		return "nothing"
	}
	return t.YAMLName()
}

func describeKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.Kind().String()
}
