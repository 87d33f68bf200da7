package policies

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"portcullis/internal/policy"
	"portcullis/internal/policy/expr"
)

// fakeClock is an injected clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// buildPipeline loads doc (a whole <policies> document) as the API scope under the default
// global policy and compiles it with deps, expressions on.
func buildPipeline(t testing.TB, deps Deps, doc string, certs map[string]*policy.Certificate) (*policy.Pipeline, error) {
	t.Helper()
	l := &policy.Loader{Registry: Registry(deps), Expressions: expr.Compile, Certificates: certs,
		NamedValues: map[string]string{"aad-tenant-id": tenantID, "aad-client-application-id": clientAppID}}
	d, err := l.Load("api.xml", []byte(doc))
	if err != nil {
		return nil, err
	}
	return l.Compile(nil, d, nil)
}

func mustPipeline(t testing.TB, deps Deps, doc string) *policy.Pipeline {
	t.Helper()
	p, err := buildPipeline(t, deps, doc, nil)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

// inboundDoc is a document whose inbound section is inner, forwarding to the backend.
func inboundDoc(inner string) string {
	return "<policies>\n<inbound>\n" + inner + "\n</inbound>\n<backend><forward-request/></backend>\n<outbound/>\n<on-error/>\n</policies>"
}

// runCtx runs ctx through p with backend b and returns the final status.
func runCtx(p *policy.Pipeline, ctx *policy.Context, b policy.Backend) int {
	ctx.Backend = b
	if ctx.Response == nil {
		ctx.Response = &policy.Response{}
	}
	_ = p.Run(ctx)
	return ctx.Response.StatusCode
}

// statusBackend answers every forward with status and counts the calls.
type statusBackend struct {
	mu     sync.Mutex
	status int
	body   string
	calls  int
}

func (b *statusBackend) Forward(ctx *policy.Context, _ policy.ForwardOptions) error {
	b.mu.Lock()
	b.calls++
	status, body := b.status, b.body
	b.mu.Unlock()
	if status == 0 {
		status = 200
	}
	ctx.Response.StatusCode = status
	ctx.Response.Header.Set("Content-Type", "text/plain")
	ctx.Response.Body.Set([]byte(body))
	return nil
}

func (b *statusBackend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// errorBody decodes APIM's {"statusCode": N, "message": "..."}.
func errorBody(t testing.TB, ctx *policy.Context) (int, string) {
	t.Helper()
	data, _ := ctx.Response.Body.Bytes()
	var out struct {
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("error body %q is not APIM's JSON: %v", data, err)
	}
	return out.StatusCode, out.Message
}

// eventLines decodes what log-to-eventhub wrote.
func eventLines(t testing.TB, buf *bytes.Buffer) []eventRecord {
	t.Helper()
	var out []eventRecord
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var r eventRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of parallel requests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) snapshot() *bytes.Buffer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.NewBuffer(append([]byte(nil), s.b.Bytes()...))
}

const clientAppID = "0b7e9d4c-0000-4000-8000-0000000000c1"
