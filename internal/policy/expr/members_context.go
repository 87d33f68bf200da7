package expr

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"portcullis/internal/jwt"
	"portcullis/internal/policy"
)

// gatewayInfo is context.Deployment.Gateway: Portcullis is a self-hosted gateway.
type gatewayInfo struct{ id string }

// certView is X509Certificate2 over the DER bytes of a client certificate.
type certView struct {
	der  []byte
	cert *x509.Certificate
}

func (r *registry) buildContext() {
	mk := func(name string, aliases ...string) *typeInfo {
		t := newType(name)
		r.alias(t, name)
		r.alias(t, aliases...)
		return t
	}
	r.context = mk("IProxyRequestContext")
	r.request = mk("IRequest")
	r.response = mk("IResponse")
	r.url = mk("IUrl")
	r.headers = newType("IReadOnlyDictionary<string, string[]>")
	r.query = newType("IReadOnlyDictionary<string, string[]>")
	r.body = mk("IMessageBody")
	r.variables = newType("IReadOnlyDictionary<string, object>")
	r.lastError = mk("ILastError")
	r.api = mk("IApi")
	r.operation = mk("IOperation")
	r.deployment = mk("IDeployment")
	r.subscription = mk("ISubscription")
	r.user = mk("IUser")
	r.product = mk("IProduct")
	r.params = newType("IReadOnlyDictionary<string, string>")
	r.cert = mk("X509Certificate2", "X509Certificate")

	c := r.context
	ctx := func(recv any) (*policy.Context, error) { return recvAs[*policy.Context](recv) }
	field := func(name string, ret *typeInfo, f func(x *policy.Context) any) {
		c.prop(name, ret, func(e *env, recv any) (any, error) {
			x, err := ctx(recv)
			if err != nil {
				return nil, err
			}
			return f(x), nil
		})
	}
	field("Request", r.request, func(x *policy.Context) any {
		if x.Request == nil {
			return nil
		}
		return x.Request
	})
	field("Response", r.response, func(x *policy.Context) any {
		if x.Response == nil {
			return nil
		}
		return x.Response
	})
	field("Variables", r.variables, func(x *policy.Context) any { return x.Variables })
	field("LastError", r.lastError, func(x *policy.Context) any {
		if x.LastError == nil {
			return nil
		}
		return x.LastError
	})
	field("Api", r.api, func(x *policy.Context) any {
		if x.API == nil {
			return nil
		}
		return x.API
	})
	field("Operation", r.operation, func(x *policy.Context) any {
		if x.Operation == nil {
			return nil
		}
		return x.Operation
	})
	field("Product", r.product, func(*policy.Context) any { return nil })
	field("Subscription", r.subscription, func(*policy.Context) any { return nil })
	field("User", r.user, func(*policy.Context) any { return nil })
	field("Workspace", nil, func(*policy.Context) any { return nil })
	field("Deployment", r.deployment, func(x *policy.Context) any { return &x.Deployment })
	field("RequestId", r.str, func(x *policy.Context) any { return x.RequestID })
	field("Timestamp", r.dateTime, func(x *policy.Context) any { return DateTime{T: x.Timestamp.UTC()} })
	field("Elapsed", r.timeSpan, func(x *policy.Context) any { return TimeSpan(time.Since(x.Timestamp)) })
	field("Tracing", r.boolean, func(*policy.Context) any { return false })
	c.meth("Trace", 1, 2, nil, func(e *env, recv any, args []any) (any, error) { return nil, nil })

	// Request
	rq := r.request
	req := func(recv any) (*policy.Request, error) { return recvAs[*policy.Request](recv) }
	rfield := func(name string, ret *typeInfo, f func(x *policy.Request) any) {
		rq.prop(name, ret, func(e *env, recv any) (any, error) {
			x, err := req(recv)
			if err != nil {
				return nil, err
			}
			return f(x), nil
		})
	}
	rfield("Method", r.str, func(x *policy.Request) any { return x.Method })
	rfield("Url", r.url, func(x *policy.Request) any { return &x.URL })
	rfield("OriginalUrl", r.url, func(x *policy.Request) any { return &x.OriginalURL })
	rfield("Headers", r.headers, func(x *policy.Request) any { return &x.Header })
	rfield("Body", r.body, func(x *policy.Request) any { return &x.Body })
	rfield("IpAddress", r.str, func(x *policy.Request) any {
		if !x.IPAddress.IsValid() {
			return ""
		}
		return x.IPAddress.String()
	})
	rfield("MatchedParameters", r.params, func(x *policy.Request) any {
		if x.MatchedParameters == nil {
			return map[string]string{}
		}
		return x.MatchedParameters
	})
	rfield("Certificate", r.cert, func(x *policy.Request) any {
		if len(x.Certificate) == 0 {
			return nil
		}
		cert, err := x509.ParseCertificate(x.Certificate)
		if err != nil {
			return nil
		}
		return &certView{der: x.Certificate, cert: cert}
	})
	rfield("PrivateEndpointConnection", nil, func(*policy.Request) any { return nil })
	rq.is = func(v any) bool { _, ok := v.(*policy.Request); return ok }
	rq.convert = func(v any) (any, bool) { x, ok := v.(*policy.Request); return x, ok }

	// Response
	rs := r.response
	resp := func(recv any) (*policy.Response, error) { return recvAs[*policy.Response](recv) }
	sfield := func(name string, ret *typeInfo, f func(x *policy.Response) any) {
		rs.prop(name, ret, func(e *env, recv any) (any, error) {
			x, err := resp(recv)
			if err != nil {
				return nil, err
			}
			return f(x), nil
		})
	}
	sfield("StatusCode", r.integer, func(x *policy.Response) any { return x.StatusCode })
	sfield("StatusReason", r.str, func(x *policy.Response) any { return x.StatusReason })
	sfield("Headers", r.headers, func(x *policy.Response) any { return &x.Header })
	sfield("Body", r.body, func(x *policy.Response) any { return &x.Body })
	rs.is = func(v any) bool { _, ok := v.(*policy.Response); return ok }
	rs.convert = func(v any) (any, bool) { x, ok := v.(*policy.Response); return x, ok }

	// Url
	u := r.url
	url := func(recv any) (*policy.URL, error) { return recvAs[*policy.URL](recv) }
	ufield := func(name string, ret *typeInfo, f func(x *policy.URL) any) {
		u.prop(name, ret, func(e *env, recv any) (any, error) {
			x, err := url(recv)
			if err != nil {
				return nil, err
			}
			return f(x), nil
		})
	}
	ufield("Scheme", r.str, func(x *policy.URL) any { return x.Scheme })
	ufield("Host", r.str, func(x *policy.URL) any { return x.Host })
	ufield("Port", r.integer, func(x *policy.URL) any {
		if x.Port == 0 {
			if x.Scheme == "https" {
				return 443
			}
			return 80
		}
		return x.Port
	})
	ufield("Path", r.str, func(x *policy.URL) any { return x.Path })
	ufield("Query", r.query, func(x *policy.URL) any { return &x.Query })
	ufield("QueryString", r.str, func(x *policy.URL) any {
		if qs := x.Query.Encode(); qs != "" {
			return "?" + qs
		}
		return ""
	})
	u.meth("ToString", 0, 0, r.str, func(e *env, recv any, args []any) (any, error) {
		x, err := url(recv)
		if err != nil {
			return nil, err
		}
		return x.String(), nil
	})
	u.meth("ToUri", 0, 0, nil, func(e *env, recv any, args []any) (any, error) {
		x, err := url(recv)
		if err != nil {
			return nil, err
		}
		return parseUri(x.String())
	})

	// Headers and Query: IReadOnlyDictionary<string, string[]>
	multiDict(r, r.headers)
	multiDict(r, r.query)
	multiDict(r, r.claims)
	// A missing claim reads as an empty array (APIM's Jwt.Claims indexer).
	claimIndex := r.claims.index
	r.claims.index = func(e *env, recv any, args []any) (any, error) {
		v, err := claimIndex(e, recv, args)
		var ex *Exception
		if err != nil && asException(err, &ex) && ex.Type == "KeyNotFoundException" {
			return []string{}, nil
		}
		return v, err
	}

	// Body
	b := r.body
	b.gmeth("As", 0, 1, func(e *env, recv any, args []any, targs []*typeInfo) (any, error) {
		body, err := recvAs[*policy.Body](recv)
		if err != nil {
			return nil, err
		}
		preserve := false
		if len(args) > 0 {
			if preserve, err = barg(args, 0); err != nil {
				return nil, err
			}
		}
		data, err := body.Bytes()
		if err != nil {
			return nil, bodyUnreadable(err)
		}
		if err := e.charge(len(data)); err != nil {
			return nil, err
		}
		if !preserve {
			body.Set(nil)
		}
		var t *typeInfo
		if len(targs) > 0 {
			t = targs[0]
		}
		switch t {
		case nil, r.str:
			return string(data), nil
		case r.bytes:
			return data, nil
		case r.types["XElement"], r.types["XDocument"]:
			root, err := parseXML(string(data))
			if err != nil {
				return nil, err
			}
			if t == r.types["XDocument"] {
				return &XDocument{Root: root, raw: string(data)}, nil
			}
			return root, nil
		case r.jobject, r.jarray, r.jtoken:
			v, err := parseJSON(string(data))
			if err != nil {
				return nil, err
			}
			if t.is != nil && !t.is(v) {
				return nil, throw("JsonReaderException", "the body is JSON %s, not %s", jtokenType(v), t.name)
			}
			return v, nil
		}
		return nil, throw("InvalidOperationException", "Body.As<%s> is not available", t.name)
	})

	b.meth("AsFormUrlEncodedContent", 0, 1, r.dict, func(e *env, recv any, args []any) (any, error) {
		body, err := recvAs[*policy.Body](recv)
		if err != nil {
			return nil, err
		}
		preserve := false
		if len(args) > 0 {
			if preserve, err = barg(args, 0); err != nil {
				return nil, err
			}
		}
		data, err := body.Bytes()
		if err != nil {
			return nil, bodyUnreadable(err)
		}
		if err := e.charge(2 * len(data)); err != nil {
			return nil, err
		}
		if !preserve {
			body.Set(nil)
		}
		q := policy.ParseQuery(string(data))
		d := newDict()
		for _, f := range q.Fields() {
			cur, _ := d.vals[f.Name].(*List)
			if cur == nil {
				cur = &List{}
				d.set(f.Name, cur)
			}
			cur.Items = append(cur.Items, f.Value)
		}
		return d, nil
	})

	// Variables: IReadOnlyDictionary<string, object>
	v := r.variables
	vars := func(recv any) (map[string]any, error) { return recvAs[map[string]any](recv) }
	v.index = func(e *env, recv any, args []any) (any, error) {
		m, err := vars(recv)
		if err != nil {
			return nil, err
		}
		k, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		x, ok := m[k]
		if !ok {
			return nil, throw("KeyNotFoundException", "the variable '%s' is not set", k)
		}
		return normalize(x), nil
	}
	v.meth("ContainsKey", 1, 1, r.boolean, func(e *env, recv any, args []any) (any, error) {
		m, err := vars(recv)
		if err != nil {
			return nil, err
		}
		k, err := sarg(args, 0)
		_, ok := m[k]
		return ok, err
	})
	v.prop("Count", r.integer, func(e *env, recv any) (any, error) {
		m, err := vars(recv)
		return len(m), err
	})
	v.prop("Keys", r.strings, func(e *env, recv any) (any, error) {
		m, err := vars(recv)
		return sortedKeys(m), err
	})
	v.meth("TryGetValue", 2, 2, r.boolean, func(e *env, recv any, args []any) (any, error) {
		m, err := vars(recv)
		if err != nil {
			return nil, err
		}
		k, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		out, _ := args[1].(*outRef)
		x, ok := m[k]
		out.set(e, normalize(x))
		return ok, nil
	})
	v.gmeth("GetValueOrDefault", 1, 2, func(e *env, recv any, args []any, targs []*typeInfo) (any, error) {
		m, err := vars(recv)
		if err != nil {
			return nil, err
		}
		k, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		var t *typeInfo
		if len(targs) > 0 {
			t = targs[0]
		}
		x, ok := m[k]
		if !ok {
			if len(args) > 1 {
				return args[1], nil
			}
			if t != nil {
				return t.zero, nil
			}
			return nil, nil
		}
		x = normalize(x)
		if t != nil && x != nil && t.is != nil && !t.is(x) {
			return nil, throw("InvalidCastException", "the variable '%s' is %s, not %s", k, typeName(x), t.name)
		}
		return x, nil
	})
	v.enumerable = true

	// MatchedParameters: IReadOnlyDictionary<string, string>
	p := r.params
	params := func(recv any) (map[string]string, error) { return recvAs[map[string]string](recv) }
	p.index = func(e *env, recv any, args []any) (any, error) {
		m, err := params(recv)
		if err != nil {
			return nil, err
		}
		k, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		x, ok := m[k]
		if !ok {
			return nil, throw("KeyNotFoundException", "the parameter '%s' was not matched", k)
		}
		return x, nil
	}
	p.indexRet = r.str
	p.meth("ContainsKey", 1, 1, r.boolean, func(e *env, recv any, args []any) (any, error) {
		m, err := params(recv)
		if err != nil {
			return nil, err
		}
		k, err := sarg(args, 0)
		_, ok := m[k]
		return ok, err
	})
	p.meth("GetValueOrDefault", 1, 2, r.str, func(e *env, recv any, args []any) (any, error) {
		m, err := params(recv)
		if err != nil {
			return nil, err
		}
		k, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		if x, ok := m[k]; ok {
			return x, nil
		}
		if len(args) > 1 {
			return args[1], nil
		}
		return nil, nil
	})
	p.meth("TryGetValue", 2, 2, r.boolean, func(e *env, recv any, args []any) (any, error) {
		m, err := params(recv)
		if err != nil {
			return nil, err
		}
		k, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		out, _ := args[1].(*outRef)
		x, ok := m[k]
		if ok {
			out.set(e, x)
		} else {
			out.set(e, nil)
		}
		return ok, nil
	})
	p.prop("Count", r.integer, func(e *env, recv any) (any, error) { m, err := params(recv); return len(m), err })
	p.enumerable = true

	// LastError
	le := r.lastError
	lfield := func(name string, f func(x *policy.LastError) string) {
		le.prop(name, r.str, func(e *env, recv any) (any, error) {
			x, err := recvAs[*policy.LastError](recv)
			if err != nil {
				return nil, err
			}
			return f(x), nil
		})
	}
	lfield("Source", func(x *policy.LastError) string { return x.Source })
	lfield("Reason", func(x *policy.LastError) string { return x.Reason })
	lfield("Message", func(x *policy.LastError) string { return x.Message })
	lfield("Scope", func(x *policy.LastError) string { return x.Scope })
	lfield("Section", func(x *policy.LastError) string { return x.Section })
	lfield("Path", func(x *policy.LastError) string { return x.Path })
	lfield("PolicyId", func(x *policy.LastError) string { return x.PolicyID })

	// Api, Operation, Deployment
	afield := func(name string, ret *typeInfo, f func(x *policy.API) any) {
		r.api.prop(name, ret, func(e *env, recv any) (any, error) {
			x, err := recvAs[*policy.API](recv)
			if err != nil {
				return nil, err
			}
			return f(x), nil
		})
	}
	afield("Id", r.str, func(x *policy.API) any { return x.ID })
	afield("Name", r.str, func(x *policy.API) any { return x.Name })
	afield("Path", r.str, func(x *policy.API) any { return x.Path })
	afield("Version", r.str, func(x *policy.API) any { return x.Version })
	afield("Revision", r.str, func(x *policy.API) any { return x.Revision })
	afield("IsCurrentRevision", r.boolean, func(x *policy.API) any { return x.IsCurrentRevision })
	afield("ServiceUrl", r.url, func(x *policy.API) any { return &x.ServiceURL })
	afield("Protocols", r.strings, func(x *policy.API) any { return []string{"https"} })
	ofield := func(name string, f func(x *policy.Operation) string) {
		r.operation.prop(name, r.str, func(e *env, recv any) (any, error) {
			x, err := recvAs[*policy.Operation](recv)
			if err != nil {
				return nil, err
			}
			return f(x), nil
		})
	}
	ofield("Id", func(x *policy.Operation) string { return x.ID })
	ofield("Method", func(x *policy.Operation) string { return x.Method })
	ofield("Name", func(x *policy.Operation) string { return x.Name })
	ofield("UrlTemplate", func(x *policy.Operation) string { return x.URLTemplate })
	dfield := func(name string, f func(x *policy.Deployment) string) {
		r.deployment.prop(name, r.str, func(e *env, recv any) (any, error) {
			x, err := recvAs[*policy.Deployment](recv)
			if err != nil {
				return nil, err
			}
			return f(x), nil
		})
	}
	dfield("Region", func(x *policy.Deployment) string { return x.Region })
	dfield("ServiceName", func(x *policy.Deployment) string { return x.ServiceName })
	dfield("ServiceId", func(x *policy.Deployment) string { return x.ServiceID })
	dfield("GatewayId", func(x *policy.Deployment) string { return x.GatewayID })
	gw := newType("IGateway")
	r.deployment.prop("Gateway", gw, func(e *env, recv any) (any, error) {
		x, err := recvAs[*policy.Deployment](recv)
		if err != nil {
			return nil, err
		}
		return &gatewayInfo{id: x.GatewayID}, nil
	})
	gw.prop("Id", r.str, func(e *env, recv any) (any, error) {
		g, err := recvAs[*gatewayInfo](recv)
		if err != nil {
			return nil, err
		}
		return g.id, nil
	})
	gw.prop("InstanceId", r.str, func(e *env, recv any) (any, error) {
		g, err := recvAs[*gatewayInfo](recv)
		if err != nil {
			return nil, err
		}
		return g.id, nil
	})
	gw.prop("IsManaged", r.boolean, func(e *env, recv any) (any, error) { return false, nil })
	r.types["IGateway"] = gw

	// Subscription, User, Product: Portcullis has none, so these are always null; their
	// members exist so that expressions written for APIM load.
	nullMembers := func(t *typeInfo, names ...string) {
		for _, n := range names {
			t.prop(n, nil, func(e *env, recv any) (any, error) { return nil, nil })
		}
	}
	nullMembers(r.subscription, "Id", "Key", "Name", "PrimaryKey", "SecondaryKey", "CreatedDate", "StartDate", "EndDate")
	nullMembers(r.user, "Id", "Email", "FirstName", "LastName", "Groups", "Identities", "Note", "RegistrationDate")
	nullMembers(r.product, "Id", "Name", "Groups", "State", "ApprovalRequired", "SubscriptionRequired", "SubscriptionsLimit")

	// X509Certificate2
	cf := func(name string, ret *typeInfo, f func(c *certView) any) {
		r.cert.prop(name, ret, func(e *env, recv any) (any, error) {
			x, err := recvAs[*certView](recv)
			if err != nil {
				return nil, err
			}
			return f(x), nil
		})
	}
	cf("Thumbprint", r.str, func(c *certView) any {
		sum := sha1.Sum(c.der)
		return strings.ToUpper(hex.EncodeToString(sum[:]))
	})
	cf("Subject", r.str, func(c *certView) any { return c.cert.Subject.String() })
	cf("Issuer", r.str, func(c *certView) any { return c.cert.Issuer.String() })
	cf("SerialNumber", r.str, func(c *certView) any { return strings.ToUpper(c.cert.SerialNumber.Text(16)) })
	cf("NotBefore", r.dateTime, func(c *certView) any { return DateTime{T: c.cert.NotBefore.UTC()} })
	cf("NotAfter", r.dateTime, func(c *certView) any { return DateTime{T: c.cert.NotAfter.UTC()} })
	cf("RawData", r.bytes, func(c *certView) any { return append([]byte(nil), c.der...) })
	// Revocation and chain checks need the gateway's trust configuration; without it the
	// answer is "not verified", which fails closed.
	r.cert.meth("Verify", 0, 0, r.boolean, func(e *env, recv any, args []any) (any, error) { return false, nil })
	r.cert.meth("VerifyNoRevocation", 0, 0, r.boolean, func(e *env, recv any, args []any) (any, error) { return false, nil })
}

func asException(err error, target **Exception) bool {
	for err != nil {
		if ex, ok := err.(*Exception); ok {
			*target = ex
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// multiValues returns every value of k in a header list, query or claim set; found is false
// when k is absent.
func multiValues(recv any, k string) (vals []string, found bool, err error) {
	switch x := recv.(type) {
	case *policy.Header:
		vals = x.Values(k)
		return vals, vals != nil, nil
	case *policy.Query:
		vals = x.Values(k)
		return vals, vals != nil, nil
	case map[string][]string:
		vals, found = x[k]
		if found && vals == nil {
			vals = []string{}
		}
		return vals, found, nil
	}
	return nil, false, errWrongRecv
}

// multiJoined is APIM's GetValueOrDefault(name): the values joined with commas. One value,
// the usual case, is returned without allocating.
func multiJoined(recv any, k string) (string, bool, error) {
	var fields []policy.Field
	fold := false
	switch x := recv.(type) {
	case *policy.Header:
		fields, fold = x.Fields(), true
	case *policy.Query:
		fields = x.Fields()
	case map[string][]string:
		vs, ok := x[k]
		if !ok {
			return "", false, nil
		}
		if len(vs) == 1 {
			return vs[0], true, nil
		}
		return strings.Join(vs, ","), true, nil
	default:
		return "", false, errWrongRecv
	}
	n, first := 0, ""
	for _, f := range fields {
		if f.Name == k || (fold && strings.EqualFold(f.Name, k)) {
			if n == 0 {
				first = f.Value
			}
			n++
		}
	}
	switch n {
	case 0:
		return "", false, nil
	case 1:
		return first, true, nil
	}
	vals, _, err := multiValues(recv, k)
	return strings.Join(vals, ","), true, err
}

func multiKeys(recv any) ([]string, error) {
	switch x := recv.(type) {
	case *policy.Header:
		return headerNames(x), nil
	case *policy.Query:
		var names []string
		seen := map[string]bool{}
		for _, f := range x.Fields() {
			if !seen[f.Name] {
				seen[f.Name] = true
				names = append(names, f.Name)
			}
		}
		return names, nil
	case map[string][]string:
		return sortedKeys(x), nil
	}
	return nil, errWrongRecv
}

// multiDict gives a string → string[] dictionary (headers, query, claims) APIM's members.
func multiDict(r *registry, t *typeInfo) {
	t.enumerable = true
	t.index = func(e *env, recv any, args []any) (any, error) {
		k, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		vs, found, err := multiValues(recv, k)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, throw("KeyNotFoundException", "'%s' is not present", k)
		}
		return append([]string(nil), vs...), nil
	}
	t.indexRet = r.strings
	t.meth("GetValueOrDefault", 1, 2, nil, func(e *env, recv any, args []any) (any, error) {
		k, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		if len(args) > 1 {
			if _, wantArray := args[1].([]string); wantArray {
				vs, found, err := multiValues(recv, k)
				if err != nil {
					return nil, err
				}
				if !found {
					return args[1], nil
				}
				return append([]string(nil), vs...), nil
			}
		}
		v, found, err := multiJoined(recv, k)
		if err != nil {
			return nil, err
		}
		if !found {
			if len(args) > 1 {
				return args[1], nil
			}
			return nil, nil
		}
		return v, nil
	})
	t.meth("ContainsKey", 1, 1, r.boolean, func(e *env, recv any, args []any) (any, error) {
		k, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		_, found, err := multiJoined(recv, k)
		return found, err
	})
	t.meth("TryGetValue", 2, 2, r.boolean, func(e *env, recv any, args []any) (any, error) {
		k, err := sarg(args, 0)
		if err != nil {
			return nil, err
		}
		out, _ := args[1].(*outRef)
		vs, found, err := multiValues(recv, k)
		if err != nil {
			return nil, err
		}
		if !found {
			out.set(e, nil)
			return false, nil
		}
		out.set(e, append([]string(nil), vs...))
		return true, nil
	})
	t.prop("Count", r.integer, func(e *env, recv any) (any, error) {
		keys, err := multiKeys(recv)
		return len(keys), err
	})
	t.prop("Keys", r.strings, func(e *env, recv any) (any, error) {
		return multiKeys(recv)
	})
}

func (r *registry) buildJwtExtensions(s *typeInfo) {
	m := s.meth("AsJwt", 0, 0, r.jwt, func(e *env, recv any, args []any) (any, error) {
		if recv == nil {
			return nil, nil
		}
		v, err := recvAs[string](recv)
		if err != nil {
			return nil, err
		}
		if t := asJwt(e, v); t != nil {
			return t, nil
		}
		return nil, nil
	})
	m.nullRecv = true
	m = s.meth("TryParseJwt", 1, 1, r.boolean, func(e *env, recv any, args []any) (any, error) {
		out, _ := args[0].(*outRef)
		v, _ := recv.(string)
		t := asJwt(e, v)
		if t == nil {
			out.set(e, nil)
			return false, nil
		}
		out.set(e, t)
		return true, nil
	})
	m.nullRecv = true
	m = s.meth("AsBasic", 0, 0, r.basic, func(e *env, recv any, args []any) (any, error) {
		v, _ := recv.(string)
		if b := asBasic(v); b != nil {
			return b, nil
		}
		return nil, nil
	})
	m.nullRecv = true
	m = s.meth("TryParseBasic", 1, 1, r.boolean, func(e *env, recv any, args []any) (any, error) {
		out, _ := args[0].(*outRef)
		v, _ := recv.(string)
		b := asBasic(v)
		if b == nil {
			out.set(e, nil)
			return false, nil
		}
		out.set(e, b)
		return true, nil
	})
	m.nullRecv = true
}

func (r *registry) buildJwt() {
	j := r.jwt
	tok := func(recv any) (*jwt.Token, error) { return recvAs[*jwt.Token](recv) }
	jf := func(name string, ret *typeInfo, f func(t *jwt.Token) any) {
		j.prop(name, ret, func(e *env, recv any) (any, error) {
			t, err := tok(recv)
			if err != nil {
				return nil, err
			}
			return f(t), nil
		})
	}
	date := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return DateTime{T: t.UTC()}
	}
	jf("Algorithm", r.str, func(t *jwt.Token) any { return t.Algorithm })
	jf("Audiences", r.strings, func(t *jwt.Token) any { return append([]string{}, t.Audiences...) })
	jf("Claims", r.claims, func(t *jwt.Token) any { return claimsOf(t) })
	jf("ExpirationTime", r.dateTime, func(t *jwt.Token) any { return date(t.ExpiresAt) })
	jf("NotBefore", r.dateTime, func(t *jwt.Token) any { return date(t.NotBefore) })
	jf("IssuedAt", r.dateTime, func(t *jwt.Token) any { return date(t.IssuedAt) })
	jf("Id", r.str, func(t *jwt.Token) any { return t.ID })
	jf("Issuer", r.str, func(t *jwt.Token) any { return t.Issuer })
	jf("Subject", r.str, func(t *jwt.Token) any { return t.Subject })
	jf("Type", r.str, func(t *jwt.Token) any { return t.Type })

	b := r.basic
	b.prop("UserId", r.str, func(e *env, recv any) (any, error) {
		x, err := recvAs[*BasicCredentials](recv)
		if err != nil {
			return nil, err
		}
		return x.UserId, nil
	})
	b.prop("Password", r.str, func(e *env, recv any) (any, error) {
		x, err := recvAs[*BasicCredentials](recv)
		if err != nil {
			return nil, err
		}
		return x.Password, nil
	})
}

// bodyUnreadable is the error of reading a body: the gateway's own failure (a backend answer
// over its limit) as it is, so that the client gets its status; anything else an exception.
func bodyUnreadable(err error) error {
	var f *policy.Failure
	if errors.As(err, &f) {
		return err
	}
	return throw("InvalidOperationException", "the body cannot be read: %v", err)
}
