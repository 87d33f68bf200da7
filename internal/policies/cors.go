package policies

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"portcullis/internal/policy"
)

// cors is cors: it answers preflight requests in inbound and adds the CORS response headers
// to the final response of an actual cross-origin request whose origin is allowed.
type cors struct {
	// credentials and terminate are allow-credentials and terminate-unmatched-request, which
	// accept policy expressions; nil means their defaults (false, true).
	credentials *policy.Value
	terminate   *policy.Value
	anyOrigin   bool
	origins     map[string]bool // normalised scheme://host:port
	anyMethod   bool
	methods     []string
	maxAge      int64
	anyHeader   bool
	headers     []string
	expose      []string
}

func compileCORS(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "allow-credentials", "terminate-unmatched-request")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el, "allowed-origins", "allowed-methods", "allowed-headers", "expose-headers"); err != nil {
		return nil, err
	}
	co := &cors{origins: map[string]bool{}}
	if co.credentials, err = r.boolValue("allow-credentials"); err != nil {
		return nil, err
	}
	if co.terminate, err = r.boolValue("terminate-unmatched-request"); err != nil {
		return nil, err
	}
	seen := map[string]*policy.Element{}
	for _, ch := range el.Children {
		if prev, dup := seen[ch.Name]; dup {
			return nil, policy.Errorf(ch.Pos, "a second <%s> in <cors> (the first is at %d:%d)", ch.Name, prev.Pos.Line, prev.Pos.Col)
		}
		seen[ch.Name] = ch
		attrs := []string{}
		if ch.Name == "allowed-methods" {
			attrs = append(attrs, "preflight-result-max-age")
		}
		cr, err := readElement(ch, c, attrs...)
		if err != nil {
			return nil, err
		}
		item := map[string]string{"allowed-origins": "origin", "allowed-methods": "method", "allowed-headers": "header", "expose-headers": "header"}[ch.Name]
		if err := onlyChildren(ch, item); err != nil {
			return nil, err
		}
		var vals []string
		for _, it := range ch.Children {
			v := strings.TrimSpace(it.Text)
			if strings.HasPrefix(v, "@(") || strings.HasPrefix(v, "@{") {
				return nil, policy.Errorf(it.TextPos, "<%s> does not accept policy expressions", item)
			}
			if v == "" {
				return nil, policy.Errorf(it.Pos, "<%s> must not be empty", item)
			}
			vals = append(vals, v)
		}
		switch ch.Name {
		case "allowed-origins":
			for i, o := range vals {
				if o == "*" {
					co.anyOrigin = true
					continue
				}
				n, ok := normaliseOrigin(o)
				if !ok {
					return nil, policy.Errorf(ch.Children[i].TextPos, "<origin> %q is not * or scheme://host[:port]", o)
				}
				co.origins[n] = true
			}
		case "allowed-methods":
			if co.maxAge, err = cr.constInt("preflight-result-max-age", false, 0, 0, 1<<31-1); err != nil {
				return nil, err
			}
			for _, m := range vals {
				if m == "*" {
					co.anyMethod = true
				} else {
					co.methods = append(co.methods, strings.ToUpper(m))
				}
			}
		case "allowed-headers":
			for _, h := range vals {
				if h == "*" {
					co.anyHeader = true
				} else {
					co.headers = append(co.headers, h)
				}
			}
		case "expose-headers":
			co.expose = vals
		}
	}
	if seen["allowed-origins"] == nil || (!co.anyOrigin && len(co.origins) == 0) {
		return nil, policy.Errorf(el.Pos, "<cors> needs <allowed-origins> with at least one <origin>")
	}
	if seen["allowed-methods"] == nil {
		co.methods = []string{http.MethodGet, http.MethodPost}
	}
	if creds := co.credentials; creds != nil && !creds.IsExpr() && co.anyOrigin {
		if on, _ := parseBool(creds.Const); !on {
			return co, nil
		}
		return nil, policy.Errorf(seen["allowed-origins"].Pos, "<cors> allow-credentials=\"true\" cannot be combined with the wildcard origin *: list the origins")
	}
	return co, nil
}

// normaliseOrigin is scheme://host:port in lower case, the port made explicit.
func normaliseOrigin(o string) (string, bool) {
	u, err := url.Parse(strings.TrimSuffix(strings.TrimSpace(o), "/"))
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		default:
			return "", false
		}
	}
	return scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port, true
}

func (co *cors) originAllowed(origin string) bool {
	if co.anyOrigin {
		return true
	}
	n, ok := normaliseOrigin(origin)
	return ok && co.origins[n]
}

func (co *cors) Run(ctx *policy.Context) error {
	origin, ok := ctx.Request.Header.Get("Origin")
	if !ok || origin == "" {
		return nil
	}
	credentials, err := evalBool(ctx, co.credentials, "cors allow-credentials", false)
	if err != nil {
		return err
	}
	terminate, err := evalBool(ctx, co.terminate, "cors terminate-unmatched-request", true)
	if err != nil {
		return err
	}
	if credentials && co.anyOrigin {
		// Allowing every origin with credentials would let any site act as the user.
		return fmt.Errorf("cors: allow-credentials evaluated to true, which cannot be combined with the wildcard origin *")
	}
	reqMethod, isPreflight := ctx.Request.Header.Get("Access-Control-Request-Method")
	isPreflight = isPreflight && ctx.Request.Method == http.MethodOptions
	if isPreflight {
		reqHeaders := splitList(strings.Join(ctx.Request.Header.Values("Access-Control-Request-Headers"), ","))
		if co.originAllowed(origin) && co.methodAllowed(reqMethod) && co.headersAllowed(reqHeaders) {
			resp := &policy.Response{StatusCode: http.StatusOK, StatusReason: "OK"}
			co.allowOrigin(&resp.Header, origin, credentials)
			methods := strings.Join(co.methods, ",")
			if co.anyMethod {
				methods = reqMethod
			}
			resp.Header.Set("Access-Control-Allow-Methods", methods)
			if len(reqHeaders) > 0 {
				resp.Header.Set("Access-Control-Allow-Headers", strings.Join(reqHeaders, ","))
			}
			if co.maxAge > 0 {
				resp.Header.Set("Access-Control-Max-Age", strconv.FormatInt(co.maxAge, 10))
			}
			resp.Body.Set(nil)
			ctx.Response = resp
			return policy.ErrResponseSent
		}
		if terminate {
			return co.terminateEmpty(ctx)
		}
		return nil
	}
	if co.originAllowed(origin) {
		ctx.OnComplete(func(ctx *policy.Context) {
			if ctx.Response == nil {
				return
			}
			h := &ctx.Response.Header
			co.allowOrigin(h, origin, credentials)
			if len(co.expose) > 0 {
				h.Set("Access-Control-Expose-Headers", strings.Join(co.expose, ","))
			}
		})
		return nil
	}
	if terminate && (ctx.Request.Method == http.MethodGet || ctx.Request.Method == http.MethodHead) {
		return co.terminateEmpty(ctx)
	}
	return nil
}

func (co *cors) terminateEmpty(ctx *policy.Context) error {
	resp := &policy.Response{StatusCode: http.StatusOK, StatusReason: "OK"}
	resp.Body.Set(nil)
	ctx.Response = resp
	return policy.ErrResponseSent
}

func (co *cors) allowOrigin(h *policy.Header, origin string, credentials bool) {
	if co.anyOrigin && !credentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	}
	if credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

func (co *cors) methodAllowed(m string) bool {
	if co.anyMethod {
		return true
	}
	for _, x := range co.methods {
		if x == strings.ToUpper(strings.TrimSpace(m)) {
			return true
		}
	}
	return false
}

func (co *cors) headersAllowed(hs []string) bool {
	if co.anyHeader {
		return true
	}
	for _, h := range hs {
		ok := false
		for _, a := range co.headers {
			ok = ok || strings.EqualFold(a, h)
		}
		if !ok {
			return false
		}
	}
	return true
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
