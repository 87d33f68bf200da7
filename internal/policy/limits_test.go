package policy

import (
	"strings"
	"testing"
)

// TestCompileErrorsHideNamedValues: a compile error that quotes an attribute or text refused
// after named-value substitution names the named value instead of repeating its value, which
// may be a secret.
func TestCompileErrorsHideNamedValues(t *testing.T) {
	const secret = `s3cret-"value"\with-escapes`
	reg := Registry{
		"quote": func(el *Element, c *Compiler) (Step, error) {
			if a, ok := el.Attr("calls"); ok {
				return nil, Errorf(a.Pos, "calls: expected a whole number, found %q", a.Value)
			}
			return nil, Errorf(el.Pos, "the text %s is not a key", strings.TrimSpace(el.Text))
		},
	}
	l := &Loader{Registry: reg, NamedValues: map[string]string{
		"secret-key": secret, "secret-key-prefix": "s3cret-", "short": "60", "long": secret + "-and-more",
	}}
	tests := []struct {
		name, src, want string
	}{
		{"quoted attribute", `<quote calls="{{secret-key}}"/>`, `calls: expected a whole number, found "{{secret-key}}"`},
		{"raw text", `<quote>{{secret-key}}</quote>`, `the text {{secret-key}} is not a key`},
		{"value around another", `<quote>{{long}}</quote>`, `the text {{long}} is not a key`},
		{"value inside literal text", `<quote calls="x{{secret-key}}y"/>`, `found "x{{secret-key}}y"`},
		{"short values stay", `<quote calls="{{short}}"/>`, `found "60"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := l.Load("p.xml", []byte(`<policies><inbound>`+tt.src+`</inbound></policies>`))
			if err != nil {
				t.Fatal(err)
			}
			for _, check := range []func() error{
				func() error { return l.Check(doc, ScopeAPI) },
				func() error { _, err := l.Compile(nil, doc, nil); return err },
			} {
				err := check()
				if err == nil {
					t.Fatal("compiled")
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %q, want it to contain %q", err, tt.want)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error repeats the named value: %q", err)
				}
			}
		})
	}
}
