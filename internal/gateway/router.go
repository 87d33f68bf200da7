package gateway

import (
	"cmp"
	"slices"

	"github.com/valyala/fasthttp"

	"portcullis/internal/config"
	"portcullis/internal/policy"
)

// maxParams bounds the parameters one URL template may hold, so that matching can record them
// in a fixed array without allocating.
const maxParams = 16

// route is one operation the router can pick. For an API without operations it is a catch-all
// for every method and path.
type route struct {
	api      *apiRoute
	name     string // operation name ("" for an API without operations)
	method   string // "*" for any
	template string
	segs     []config.Segment
	params   int
	pipeline Pipeline
	catchAll bool
	info     policy.Operation
}

// apiRoute is one API with its operations in matching order.
type apiRoute struct {
	cfg        *config.API
	routes     []*route
	info       policy.API
	service    policy.URL           // the backend URL, parsed once
	hostHeader string               // service's Host field, prepared once
	client     *fasthttp.HostClient // its pooled connections
}

// router finds the API by the longest path suffix and then the operation. Matching does not
// allocate.
type router struct {
	apis map[string]*apiRoute // normalised API path ("" for the root) → API
}

// match is the router's answer: the route, the path after the API's suffix, and the matched
// parameters as offsets into rest (so nothing is copied unless a policy asks for it).
type match struct {
	api     *apiRoute
	route   *route
	rest    []byte
	nparams int
	params  [maxParams]struct{ start, end int }
}

func newRouter(apis []*apiRoute) *router {
	r := &router{apis: make(map[string]*apiRoute, len(apis))}
	for _, a := range apis {
		slices.SortStableFunc(a.routes, compareRoutes)
		a.hostHeader = hostHeader(&a.service)
		r.apis[a.cfg.Path] = a
	}
	return r
}

// compareRoutes orders routes so that the first match is the most specific: segment by
// segment, literals before parameters before wildcards; then more segments first; then a
// named method before "*".
func compareRoutes(a, b *route) int {
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if c := cmp.Compare(a.segs[i].Kind, b.segs[i].Kind); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(len(b.segs), len(a.segs)); c != 0 {
		return c
	}
	return cmp.Compare(boolInt(a.method == "*"), boolInt(b.method == "*"))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// find fills m for method and path (a decoded, normalised path starting with '/'). It reports
// whether an API was found and whether one of its operations matched.
func (r *router) find(method, path []byte, m *match) (apiFound, opFound bool) {
	if len(path) == 0 || path[0] != '/' {
		return false, false
	}
	key := path[1:]
	for {
		if a, ok := r.apis[string(key)]; ok {
			if len(key) == 0 {
				m.rest = path
			} else {
				m.rest = path[1+len(key):]
			}
			m.api = a
			return true, a.matchOperation(method, m)
		}
		if len(key) == 0 {
			return false, false
		}
		i := lastSlash(key)
		if i < 0 {
			key = key[:0]
		} else {
			key = key[:i]
		}
	}
}

func lastSlash(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '/' {
			return i
		}
	}
	return -1
}

func (a *apiRoute) matchOperation(method []byte, m *match) bool {
	for _, rt := range a.routes {
		if rt.method != "*" && rt.method != string(method) {
			continue
		}
		if rt.matchPath(m) {
			m.route = rt
			return true
		}
	}
	return false
}

// matchPath matches m.rest ("" or "/...") against the route's segments.
func (rt *route) matchPath(m *match) bool {
	if rt.catchAll {
		// An API without operations: everything matches.
		m.nparams = 0
		return true
	}
	rest := m.rest
	pos := 0 // offset in rest of the current segment
	if len(rest) > 0 {
		pos = 1
	}
	n := 0
	for i, seg := range rt.segs {
		if seg.Kind == config.Wildcard {
			start := min(pos, len(rest))
			m.params[n] = struct{ start, end int }{start, len(rest)}
			m.nparams = n + 1
			return true
		}
		if pos > len(rest) || len(rest) == 0 {
			return false
		}
		end := pos
		for end < len(rest) && rest[end] != '/' {
			end++
		}
		switch seg.Kind {
		case config.Literal:
			if string(rest[pos:end]) != seg.Text {
				return false
			}
		case config.Param:
			if end == pos {
				return false
			}
			m.params[n] = struct{ start, end int }{pos, end}
			n++
		}
		if i == len(rt.segs)-1 {
			if end != len(rest) {
				return false
			}
		}
		pos = end + 1
	}
	if len(rt.segs) == 0 {
		// Template "/": the API's root, with or without the trailing slash.
		if len(rest) > 1 {
			return false
		}
	}
	m.nparams = n
	return true
}
