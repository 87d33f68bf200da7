package liquid

import (
	"errors"
	"strings"
	"testing"
)

// obj is an Object for tests: members looked up by exact name.
type obj map[string]any

func (o obj) Get(name string) (any, bool) { v, ok := o[name]; return v, ok }

func TestRender(t *testing.T) {
	data := map[string]any{
		"body": map[string]any{
			"name": "Widget", "price": 12.5, "qty": float64(3), "tags": []any{"a", "b", "c"},
			"owner": map[string]any{"email": "ann@contoso.example"}, "empty": "", "flag": false,
			"lines": []any{map[string]any{"sku": "x", "n": float64(1)}, map[string]any{"sku": "y", "n": float64(2)}},
		},
		"context": obj{"Request": obj{"Method": "POST", "Headers": obj{"Accept": "application/json"}}},
	}
	tests := []struct{ name, src, want string }{
		{"text alone", "plain", "plain"},
		{"output", "{{ body.name }}", "Widget"},
		{"numbers print like Liquid", "{{body.qty}} {{body.price}}", "3 12.5"},
		{"index and quotes", `{{ body.tags[1] }}{{ body["name"] }}{{ body['owner'].email }}`, "bWidgetann@contoso.example"},
		{"negative index", "{{ body.tags[-1] }}", "c"},
		{"size, first, last", "{{ body.tags.size }}{{ body.tags.first }}{{ body.tags.last }}{{ body.name.size }}", "3ac6"},
		{"missing is empty", "[{{ body.nothing.deeper }}]", "[]"},
		{"context object", "{{context.Request.Method}} {{context.Request.Headers.Accept}}", "POST application/json"},
		{"Default in C# spelling", `{{ body.missing | Default: "none" }}|{{ body.empty | default: "blank" }}|{{ body.name | Default: "x" }}`, "none|blank|Widget"},
		{"string filters", `{{ body.name | Upcase }} {{ body.name | downcase }} {{ "hello world" | Capitalize }} {{ "  x " | Strip }}!`, "WIDGET widget Hello world x!"},
		{"append, prepend, replace, remove", `{{ body.name | Append: "!" | Prepend: "¡" | Replace: "W", "G" | Remove: "t" }}`, "¡Gidge!"},
		{"split and join", `{{ "a,b,c" | Split: "," | Join: "-" }}`, "a-b-c"},
		{"truncate and slice", `{{ "abcdefghij" | Truncate: 6 }} {{ "abcdef" | Slice: 1, 3 }}`, "abc... bcd"},
		{"arithmetic", `{{ body.qty | Plus: 2 }} {{ body.qty | Times: body.price }} {{ 7 | Modulo: 3 }} {{ 9 | DividedBy: 2 }}`, "5 37.5 1 4.5"},
		{"url and html escaping", `{{ "a b&c" | UrlEncode }} {{ "<b>" | Escape }}`, "a+b%26c &lt;b&gt;"},
		{"json filter", `{{ body.tags | json }}`, `["a","b","c"]`},
		{"if / elsif / else", `{% if body.qty > 5 %}many{% elsif body.qty == 3 %}three{% else %}few{% endif %}`, "three"},
		{"and / or group from the right", `{% if body.flag or body.qty == 3 and body.name == "Widget" %}yes{% endif %}`, "yes"},
		{"contains on text and lists", `{% if body.name contains "idg" %}1{% endif %}{% if body.tags contains "b" %}2{% endif %}`, "12"},
		{"unless", `{% unless body.flag %}not flagged{% endunless %}`, "not flagged"},
		{"empty comparison", `{% if body.empty == empty %}empty{% endif %}{% if body.tags != empty %} full{% endif %}`, "empty full"},
		{"for with forloop", `{% for l in body.lines %}{{ forloop.index }}:{{ l.sku }}x{{ l.n }}{% unless forloop.last %},{% endunless %}{% endfor %}`, "1:xx1,2:yx2"},
		{"for limit, offset, reversed", `{% for t in body.tags limit:2 offset:1 %}{{t}}{% endfor %}|{% for t in body.tags reversed %}{{t}}{% endfor %}`, "bc|cba"},
		{"for over a range", `{% for i in (1..3) %}{{i}}{% endfor %}`, "123"},
		{"for else on an empty list", `{% for x in body.none %}{{x}}{% else %}nothing{% endfor %}`, "nothing"},
		{"assign", `{% assign n = body.name | Downcase %}{{ n }}-{{ n }}`, "widget-widget"},
		{"whitespace control", "a  {%- if true -%}  b  {%- endif -%}  c", "abc"},
		{"output whitespace control", "x \n {{- body.name -}} \n y", "xWidgety"},
		{"comment and raw", `{% comment %}{{ hidden }}{% endcomment %}{% raw %}{{ kept }}{% endraw %}`, "{{ kept }}"},
		{"dictionary iteration", `{% for e in body.owner %}{{e.Key}}={{e.Value}}{% endfor %}`, "email=ann@contoso.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := Parse(tt.src)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got, err := tpl.Render(data)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
		want      string
	}{
		{"unclosed output", "a\n{{ body.x", 2, "never closed"},
		{"unclosed if", "{% if x %}\nyes", 1, "has no {% endif %}"},
		{"stray endfor", "x\n\n{% endfor %}", 3, "has no opening tag"},
		{"unknown tag", "{% include 'x' %}", 1, "not supported"},
		{"unknown filter", "{{ x | Shout }}", 1, "filter Shout is not supported"},
		{"bad assign", "{% assign = 1 %}", 1, "assign needs name = value"},
		{"unclosed string", `{{ "abc }}`, 1, "string is never closed"},
		{"bad for", "{% for in x %}{% endfor %}", 1, "for needs: item in collection"},
		{"else in the wrong place", "{% for x in y %}{% elsif z %}{% endfor %}", 1, "has no {% endfor %}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.src)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a SyntaxError", err)
			}
			if se.Line != tt.line || !strings.Contains(se.Msg, tt.want) {
				t.Errorf("error at line %d %q, want line %d %q", se.Line, se.Msg, tt.line, tt.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tpl, err := Parse(`{{ 1 | DividedBy: 0 }}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpl.Render(nil); err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Errorf("error %v", err)
	}
	// Output is bounded: a loop that would write more than MaxOutput stops with an error.
	big := strings.Repeat("x", 1<<20)
	tpl, err = Parse(`{% for i in (1..100) %}{{ big }}{% endfor %}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpl.Render(map[string]any{"big": big}); !errors.Is(err, ErrOutputTooLarge) {
		t.Errorf("error %v, want ErrOutputTooLarge", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"{{ a.b[0] | Default: 'x' }}", "{% if a and b or c %}x{% elsif d %}{% else %}{% endif %}", "{% for i in (1..3) %}{{i}}{% endfor %}", "{%- assign v = x -%}{{v}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := Parse(src)
		if err != nil {
			return
		}
		_, _ = tpl.Render(map[string]any{"a": map[string]any{"b": []any{"c"}}})
	})
}

func BenchmarkRender(b *testing.B) {
	tpl, err := Parse(`{"user": "{{ body.name | Upcase }}", "tags": [{% for t in body.tags %}"{{t}}"{% unless forloop.last %},{% endunless %}{% endfor %}]}`)
	if err != nil {
		b.Fatal(err)
	}
	data := map[string]any{"body": map[string]any{"name": "widget", "tags": []any{"a", "b", "c"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(data); err != nil {
			b.Fatal(err)
		}
	}
}
