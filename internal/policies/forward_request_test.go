package policies

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"portcullis/internal/policy"
)

// httpBackend is a Backend that really sends the request, with net/http, as the gateway's
// transport does with fasthttp.
type httpBackend struct {
	got []policy.ForwardOptions
}

func (b *httpBackend) Forward(ctx *policy.Context, opt policy.ForwardOptions) error {
	b.got = append(b.got, opt)
	client := &http.Client{Timeout: opt.Timeout}
	if !opt.FollowRedirects {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	req, err := http.NewRequest(ctx.Request.Method, ctx.Request.URL.String(), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	ctx.Response.StatusCode = resp.StatusCode
	ctx.Response.Header.Reset()
	for name, values := range resp.Header {
		for _, v := range values {
			ctx.Response.Header.Add(name, v)
		}
	}
	ctx.Response.Body.Set(body)
	return nil
}

// backendFunc adapts a function to policy.Backend.
type backendFunc func(ctx *policy.Context, opt policy.ForwardOptions) error

func (f backendFunc) Forward(ctx *policy.Context, opt policy.ForwardOptions) error {
	return f(ctx, opt)
}

func compileOne(t *testing.T, src string) (policy.Step, error) {
	t.Helper()
	l := &policy.Loader{Registry: Registry(Deps{})}
	doc, err := l.Load("fr.xml", []byte("<policies><backend>"+src+"</backend></policies>"))
	if err != nil {
		return nil, err
	}
	p, err := l.Compile(nil, doc, nil)
	if err != nil {
		return nil, err
	}
	steps := p.Steps(policy.SectionBackend)
	if len(steps) != 1 {
		t.Fatalf("%d backend steps", len(steps))
	}
	return steps[0], nil
}

func TestForwardRequestAttributes(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    policy.ForwardOptions
		wantErr string
	}{
		{name: "APIM's defaults", src: `<forward-request/>`,
			want: policy.ForwardOptions{Timeout: 300 * time.Second, BufferResponse: true}},
		{name: "every attribute", src: `<forward-request id="fwd" timeout="120" follow-redirects="true" buffer-request-body="True" fail-on-error-status-code="true" buffer-response="false" http-version="2or1"/>`,
			want: policy.ForwardOptions{Timeout: 120 * time.Second, FollowRedirects: true, BufferRequestBody: true, FailOnErrorStatusCode: true}},
		{name: "timeout not a number", src: `<forward-request timeout="2m"/>`,
			wantErr: `fr.xml:1:46: <forward-request> timeout="2m": must be a whole number of seconds, at least 1`},
		{name: "timeout zero", src: `<forward-request timeout="0"/>`,
			wantErr: `fr.xml:1:46: <forward-request> timeout="0": must be a whole number of seconds, at least 1`},
		{name: "timeout too long", src: `<forward-request timeout="100000"/>`,
			wantErr: `fr.xml:1:46: <forward-request> timeout="100000": must be at most 86400 seconds`},
		{name: "not a boolean", src: `<forward-request buffer-request-body="yes"/>`,
			wantErr: `fr.xml:1:58: <forward-request> buffer-request-body="yes": must be "true" or "false"`},
		{name: "HTTP/2 only", src: `<forward-request http-version="2"/>`,
			wantErr: `fr.xml:1:51: <forward-request> http-version="2": HTTP/2-only backends are not supported: use "1" or "2or1"`},
		{name: "unknown attribute", src: `<forward-request timout="10"/>`,
			wantErr: "fr.xml:1:45: <forward-request> has no attribute timout (it takes timeout, follow-redirects, buffer-request-body, buffer-response, fail-on-error-status-code, http-version, id)"},
		{name: "child element", src: "<forward-request>\n<set-url/></forward-request>",
			wantErr: "fr.xml:2:1: <forward-request> takes no child elements (found <set-url>)"},
		{name: "timeout expression without an expression compiler", src: `<forward-request timeout="@(context.Variables[&quot;t&quot;])"/>`,
			wantErr: "fr.xml:1:46: policy expressions are not supported yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, err := compileOne(t, tt.src)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error\n got %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []policy.ForwardOptions
			ctx := &policy.Context{Response: &policy.Response{}, Backend: backendFunc(func(_ *policy.Context, opt policy.ForwardOptions) error {
				got = append(got, opt)
				return nil
			})}
			if err := step.Run(ctx); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("options %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestForwardRequestSectionAndRegistry(t *testing.T) {
	l := &policy.Loader{Registry: Registry(Deps{})}
	_, err := l.Load("fr.xml", []byte("<policies><inbound>\n<forward-request/></inbound></policies>"))
	if err == nil || err.Error() != "fr.xml:2:1: <forward-request> is not allowed in the inbound section (it belongs in backend)" {
		t.Fatalf("error %v", err)
	}
}

func TestForwardRequestToARealBackend(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("X-Backend", "yes")
			io.WriteString(w, "hello from "+r.Method)
		case "/moved":
			w.Header().Set("Location", "/ok")
			w.WriteHeader(http.StatusFound)
		case "/broken":
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	base := policy.URL{Scheme: "http", Host: strings.TrimPrefix(srv.URL, "http://")}
	url := func(path string) policy.URL { u := base; u.Path = path; return u }

	tests := []struct {
		name       string
		policy     string
		path       string
		wantStatus int
		wantBody   string
		wantLast   *policy.LastError
	}{
		{"forwarded", `<forward-request timeout="5"/>`, "/ok", 200, "hello from GET", nil},
		{"a redirect is returned as is by default", `<forward-request/>`, "/moved", 302, "", nil},
		{"follow-redirects", `<forward-request follow-redirects="true"/>`, "/moved", 200, "hello from GET", nil},
		{"a backend error status flows through by default", `<forward-request/>`, "/broken", 503, "", nil},
		{"fail-on-error-status-code sends it through on-error", `<forward-request fail-on-error-status-code="true"/>`, "/broken", 503,
			`{"statusCode": 503, "message": "Service Unavailable"}`,
			&policy.LastError{Source: "forward-request", Reason: ReasonBackendErrorStatusCode,
				Message: "the backend answered 503 and fail-on-error-status-code is true",
				Scope:   "api", Section: "backend", Path: "forward-request[1]", StatusCode: 503}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &policy.Loader{Registry: Registry(Deps{})}
			doc, err := l.Load("api.xml", []byte("<policies><backend>"+tt.policy+"</backend></policies>"))
			if err != nil {
				t.Fatal(err)
			}
			p, err := l.Compile(nil, doc, nil)
			if err != nil {
				t.Fatal(err)
			}
			backend := &httpBackend{}
			ctx := &policy.Context{
				Request:  &policy.Request{Method: "GET", URL: url(tt.path)},
				Response: &policy.Response{},
				Backend:  backend,
			}
			p.Run(ctx)
			if ctx.Response.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", ctx.Response.StatusCode, tt.wantStatus)
			}
			body, _ := ctx.Response.Body.Bytes()
			if string(body) != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
			if tt.wantLast == nil && ctx.LastError != nil {
				t.Errorf("LastError %+v", ctx.LastError)
			}
			if tt.wantLast != nil && (ctx.LastError == nil || *ctx.LastError != *tt.wantLast) {
				t.Errorf("LastError\n got %+v\nwant %+v", ctx.LastError, tt.wantLast)
			}
			if len(backend.got) != 1 {
				t.Errorf("backend called %d times", len(backend.got))
			}
		})
	}
}

func TestForwardRequestFailures(t *testing.T) {
	step, err := compileOne(t, `<forward-request/>`)
	if err != nil {
		t.Fatal(err)
	}
	timeout := &policy.Failure{Source: "forward-request", Reason: "Timeout", Message: "Gateway Timeout", StatusCode: 504}
	refused := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	tests := []struct {
		name       string
		backend    policy.Backend
		wantReason string
		wantStatus int
		wantErr    error
	}{
		{"no backend transport", nil, ReasonBackendConnectionFailure, 500, nil},
		{"a transport error", backendFunc(func(*policy.Context, policy.ForwardOptions) error { return refused }), ReasonBackendConnectionFailure, 500, refused},
		{"the transport's own failure is kept", backendFunc(func(*policy.Context, policy.ForwardOptions) error { return timeout }), "Timeout", 504, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := &policy.Context{Response: &policy.Response{}, Backend: tt.backend}
			err := step.Run(ctx)
			var f *policy.Failure
			if !errors.As(err, &f) {
				t.Fatalf("error %v, want a Failure", err)
			}
			if f.Source != "forward-request" || f.Reason != tt.wantReason || f.StatusCode != tt.wantStatus {
				t.Errorf("failure %+v", f)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			var se *policy.StepError
			if !errors.As(err, &se) || se.Path != "forward-request[1]" || se.Section != "backend" {
				t.Errorf("step error %+v", se)
			}
		})
	}
}
