package policies

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"portcullis/internal/policy"
)

// cachedResponse is a response held by cache-store for cache-lookup.
type cachedResponse struct {
	status int
	reason string
	header []policy.Field
	body   []byte
}

// cacheLookupVariable carries cache-lookup's key to cache-store within one request. The name
// is not a C# identifier, so expressions do not meet it by accident.
const cacheLookupVariable = "portcullis:cache-lookup"

type cacheLookupState struct {
	key            string
	downstream     string // none | private | public
	mustRevalidate bool
}

type cacheLookup struct {
	cache          Cache
	downstream     string
	mustRevalidate bool
	allowPrivate   bool
	headers        []string
	query          []string
}

func (d CacheDeps) compileCacheLookup(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	if err := onlyIn(el, c, policy.SectionInbound); err != nil {
		return nil, err
	}
	r, err := readElement(el, c, "vary-by-developer", "vary-by-developer-groups", "downstream-caching-type",
		"must-revalidate", "allow-private-response-caching", "caching-type")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el, "vary-by-header", "vary-by-query-parameter"); err != nil {
		return nil, err
	}
	if err := checkCachingType(r); err != nil {
		return nil, err
	}
	// Portcullis has no developer accounts: with or without vary-by-developer every caller
	// shares the entries, which the attributes must still state, as APIM requires.
	for _, name := range []string{"vary-by-developer", "vary-by-developer-groups"} {
		s, _, err := r.constant(name, true)
		if err != nil {
			return nil, err
		}
		if _, err := parseBool(s); err != nil {
			a, _ := el.Attr(name)
			return nil, policy.Errorf(a.Pos, "<cache-lookup> %s: %v", name, err)
		}
	}
	p := &cacheLookup{cache: d.Cache, downstream: "none"}
	if s, ok, err := r.constant("downstream-caching-type", false); err != nil {
		return nil, err
	} else if ok {
		switch strings.TrimSpace(s) {
		case "none", "private", "public":
			p.downstream = strings.TrimSpace(s)
		default:
			a, _ := el.Attr("downstream-caching-type")
			return nil, policy.Errorf(a.Pos, `<cache-lookup> downstream-caching-type must be "none", "private" or "public", found %q`, s)
		}
	}
	if p.mustRevalidate, err = r.constBool("must-revalidate", true); err != nil {
		return nil, err
	}
	if p.allowPrivate, err = r.constBool("allow-private-response-caching", false); err != nil {
		return nil, err
	}
	for _, ch := range el.Children {
		if len(ch.Children) > 0 {
			return nil, policy.Errorf(ch.Children[0].Pos, "<%s> holds a name as text, not <%s>", ch.Name, ch.Children[0].Name)
		}
		if len(ch.Attrs) > 0 {
			return nil, policy.Errorf(ch.Attrs[0].Pos, "<%s> takes no attributes", ch.Name)
		}
		name := strings.TrimSpace(ch.Text)
		if name == "" {
			return nil, policy.Errorf(ch.Pos, "<%s> needs a name as its text", ch.Name)
		}
		if ch.Name == "vary-by-header" {
			p.headers = append(p.headers, name)
		} else {
			p.query = append(p.query, name)
		}
	}
	return p, d.needCache(el)
}

// key identifies the response: API, operation, path, the query (only the named parameters
// when vary-by-query-parameter names any) and the named headers.
func (p *cacheLookup) key(ctx *policy.Context) string {
	var b strings.Builder
	b.WriteString("response\x00")
	if ctx.API != nil {
		b.WriteString(ctx.API.ID + "\x00" + ctx.API.Name)
	}
	b.WriteByte(0)
	if ctx.Operation != nil {
		b.WriteString(ctx.Operation.ID + "\x00" + ctx.Operation.Name)
	}
	b.WriteByte(0)
	u := ctx.Request.OriginalURL
	b.WriteString(u.Host + u.Path)
	b.WriteByte(0)
	if len(p.query) == 0 {
		b.WriteString(u.Query.Encode())
	}
	for _, q := range p.query {
		b.WriteString(q + "=" + strings.Join(u.Query.Values(q), ",") + "\x00")
	}
	for _, h := range p.headers {
		b.WriteString(strings.ToLower(h) + ":" + strings.Join(ctx.Request.Header.Values(h), ",") + "\x00")
	}
	return b.String()
}

func (p *cacheLookup) Run(ctx *policy.Context) error {
	if ctx.Request.Method != http.MethodGet {
		return nil // APIM caches GET responses only
	}
	if _, ok := ctx.Request.Header.Get("Authorization"); ok && !p.allowPrivate {
		return nil
	}
	key := p.key(ctx)
	if v, ok := p.cache.Get(key); ok {
		if cr, ok := v.(*cachedResponse); ok {
			if ctx.Response == nil {
				ctx.Response = &policy.Response{}
			}
			r := ctx.Response
			r.StatusCode, r.StatusReason = cr.status, cr.reason
			r.Header.Reset()
			for _, f := range cr.header {
				r.Header.Add(f.Name, f.Value)
			}
			r.Body.Set(append([]byte(nil), cr.body...))
			return policy.ErrResponseSent
		}
	}
	setVariable(ctx, cacheLookupVariable, &cacheLookupState{key: key, downstream: p.downstream, mustRevalidate: p.mustRevalidate})
	return nil
}

type cacheStore struct {
	cache         Cache
	duration      *policy.Value
	cacheResponse *policy.Value
}

func (d CacheDeps) compileCacheStore(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	if err := onlyIn(el, c, policy.SectionOutbound); err != nil {
		return nil, err
	}
	r, err := readElement(el, c, "duration", "cache-response")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	p := &cacheStore{cache: d.Cache}
	if p.duration, err = r.intValue("duration", true, 1, math.MaxInt32); err != nil {
		return nil, err
	}
	if p.cacheResponse, err = r.boolValue("cache-response"); err != nil {
		return nil, err
	}
	return p, d.needCache(el)
}

func (p *cacheStore) Run(ctx *policy.Context) error {
	st, ok := ctx.Variables[cacheLookupVariable].(*cacheLookupState)
	if !ok || ctx.Response == nil {
		return nil // no cache-lookup ran for this request (not a GET, or a private request)
	}
	secs, err := evalInt(ctx, p.duration, "duration", 1, math.MaxInt32)
	if err != nil {
		return err
	}
	r := ctx.Response
	store := r.StatusCode == http.StatusOK
	if p.cacheResponse != nil {
		if store, err = evalBool(ctx, p.cacheResponse, "cache-response", false); err != nil {
			return err
		}
	}
	if st.downstream != "none" {
		cc := st.downstream + ", max-age=" + strconv.FormatInt(secs, 10)
		if st.mustRevalidate {
			cc += ", must-revalidate"
		}
		r.Header.Set("Cache-Control", cc)
	}
	if !store {
		return nil
	}
	body, err := r.Body.Bytes()
	if err != nil {
		return nil // too large to buffer: served, not cached
	}
	cr := &cachedResponse{status: r.StatusCode, reason: r.StatusReason, body: append([]byte(nil), body...),
		header: append([]policy.Field(nil), r.Header.Fields()...)}
	p.cache.Set(st.key, cr, time.Duration(secs)*time.Second)
	return nil
}
