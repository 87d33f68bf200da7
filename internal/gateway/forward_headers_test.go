package gateway

import (
	"reflect"
	"testing"

	"github.com/valyala/fasthttp"

	"portcullis/internal/policy"
)

func TestCopyRequestHeaders(t *testing.T) {
	cases := []struct {
		name    string
		in      [][2]string
		want    [][2]string // fields sent to the backend, in order
		wantXFF string
	}{
		{"ordinary fields kept in order", [][2]string{{"Accept", "a/b"}, {"Authorization", "Bearer x"}, {"X-Custom", "1"}},
			[][2]string{{"Accept", "a/b"}, {"Authorization", "Bearer x"}, {"X-Custom", "1"}}, ""},
		{"fields the gateway sets itself", [][2]string{{"Host", "h"}, {"content-length", "3"}, {"X-FORWARDED-PROTO", "https"}, {"x-forwarded-host", "evil"}, {"X-Kept", "k"}},
			[][2]string{{"X-Kept", "k"}}, ""},
		{"hop-by-hop fields", [][2]string{{"Connection", "keep-alive"}, {"Keep-Alive", "timeout=5"}, {"TE", "trailers"}, {"Transfer-Encoding", "chunked"},
			{"Upgrade", "h2c"}, {"Proxy-Authorization", "Basic x"}, {"Proxy-Connection", "x"}, {"Trailer", "x"}, {"Accept", "*/*"}},
			[][2]string{{"Accept", "*/*"}}, ""},
		{"client's X-Forwarded-For collected", [][2]string{{"X-Forwarded-For", "203.0.113.9"}, {"x-forwarded-for", "198.51.100.7, 10.0.0.1"}},
			nil, "203.0.113.9, 198.51.100.7, 10.0.0.1, "},
		{"fields the Connection field names", [][2]string{{"Connection", "keep-alive, X-Drop"}, {"X-Drop", "1"}, {"connection", "x-other"}, {"X-Other", "2"}, {"X-Keep", "3"}},
			[][2]string{{"X-Keep", "3"}}, ""},
		{"Connection: close names a field called Close", [][2]string{{"Connection", "close"}, {"Close", "1"}, {"X-Keep", "3"}},
			[][2]string{{"X-Keep", "3"}}, ""},
		{"a name that only looks alike is kept", [][2]string{{"Hosts", "1"}, {"X-Forwarded-Fo", "2"}},
			[][2]string{{"Hosts", "1"}, {"X-Forwarded-Fo", "2"}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var in policy.Header
			for _, f := range c.in {
				in.Add(f[0], f[1])
			}
			var req fasthttp.Request
			req.Header.DisableNormalizing()
			xff := copyRequestHeaders(&req.Header, &in, nil)
			var got [][2]string
			for k, v := range req.Header.All() {
				switch string(k) {
				case "Host", "Content-Length", "Content-Type", "User-Agent":
					continue // fasthttp's own defaults, not copied fields
				}
				got = append(got, [2]string{string(k), string(v)})
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("sent %q, want %q", got, c.want)
			}
			if string(xff) != c.wantXFF {
				t.Errorf("X-Forwarded-For %q, want %q", xff, c.wantXFF)
			}
		})
	}
}
