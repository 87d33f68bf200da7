package expr

import (
	"errors"
	"sync"
)

// typeInfo is one .NET type as expressions see it: its members, indexer, constructor and
// how a cast converts a value to it. The tables are built once and never change.
type typeInfo struct {
	name     string
	props    map[string]*prop
	methods  map[string]*method
	sprops   map[string]*prop
	smethods map[string]*method

	index    func(e *env, recv any, args []any) (any, error)
	indexRet *typeInfo
	setIndex func(e *env, recv any, args []any, v any) error
	setProp  map[string]func(e *env, recv any, v any) error

	ctor func(e *env, targs []*typeInfo, args []any) (any, error)
	// convert is the explicit cast (T)v; v is never nil. ok false: InvalidCastException.
	convert func(v any) (any, bool)
	// is reports whether v is an instance (for "is" and "as").
	is        func(v any) bool
	valueType bool
	zero      any // default(T)
	// elem is the element type of arrays and lists, when known.
	elem       *typeInfo
	enumerable bool
	static     bool // a static class: only static members
}

type prop struct {
	ret *typeInfo
	get func(e *env, recv any) (any, error)
}

type method struct {
	min, max int // max < 0: any number
	ret      *typeInfo
	// retTArg: the static result type is the first type argument (As<T>, Value<T>).
	retTArg bool
	// nullRecv: an extension method that accepts a null receiver (AsJwt, IsNullOrEmpty...).
	nullRecv bool
	generic  bool
	call     func(e *env, recv any, args []any, targs []*typeInfo) (any, error)
}

// errWrongRecv tells a statically bound member that the receiver is not of the type it was
// bound for; the caller then dispatches on the value's own type.
var errWrongRecv = errors.New("receiver of another type")

func recvAs[T any](r any) (T, error) {
	v, ok := r.(T)
	if !ok {
		var zero T
		return zero, errWrongRecv
	}
	return v, nil
}

func newType(name string) *typeInfo {
	return &typeInfo{
		name:     name,
		props:    map[string]*prop{},
		methods:  map[string]*method{},
		sprops:   map[string]*prop{},
		smethods: map[string]*method{},
		setProp:  map[string]func(e *env, recv any, v any) error{},
	}
}

func (t *typeInfo) prop(name string, ret *typeInfo, get func(e *env, recv any) (any, error)) {
	t.props[name] = &prop{ret: ret, get: get}
}

func (t *typeInfo) meth(name string, min, max int, ret *typeInfo, call func(e *env, recv any, args []any) (any, error)) *method {
	m := &method{min: min, max: max, ret: ret, call: func(e *env, recv any, args []any, _ []*typeInfo) (any, error) {
		return call(e, recv, args)
	}}
	t.methods[name] = m
	return m
}

func (t *typeInfo) gmeth(name string, min, max int, call func(e *env, recv any, args []any, targs []*typeInfo) (any, error)) *method {
	m := &method{min: min, max: max, retTArg: true, generic: true, call: call}
	t.methods[name] = m
	return m
}

func (t *typeInfo) sprop(name string, ret *typeInfo, get func(e *env) (any, error)) {
	t.sprops[name] = &prop{ret: ret, get: func(e *env, _ any) (any, error) { return get(e) }}
}

func (t *typeInfo) smeth(name string, min, max int, ret *typeInfo, call func(e *env, args []any) (any, error)) *method {
	m := &method{min: min, max: max, ret: ret, call: func(e *env, _ any, args []any, _ []*typeInfo) (any, error) {
		return call(e, args)
	}}
	t.smethods[name] = m
	return m
}

// registry holds every type and member expressions may use.
type registry struct {
	types       map[string]*typeInfo // by C# name, with aliases and namespace-qualified names
	namespaces  map[string]bool
	memberNames map[string]bool // every instance member name, for checks on untyped values
	nullRecv    map[string]bool // extension methods that accept a null receiver
	// arrays are the array types of value types (int[], bool[] ...), so that LINQ's
	// ...OrDefault methods know their default.
	arrays     map[*typeInfo]*typeInfo
	linq       map[string]*method
	objMethods map[string]*method
	obj        *typeInfo
	denied     map[string]string // well-known types that are refused, with the reason

	str, integer, long, double, boolean, char, dateTime, timeSpan, guid        *typeInfo
	jwt, claims, basic                                                         *typeInfo
	context, request, response, url, headers, query, body, variables           *typeInfo
	lastError, api, operation, deployment, subscription, user, product, params *typeInfo
	jobject, jarray, jtoken, jproperty                                         *typeInfo
	bytes, strings, array, list, dict, kv, match, group, groups, uri, random   *typeInfo
	hash, encoding, cert, lambda, stringComparison, regex                      *typeInfo
}

// The registry is built once, on first use, and never changes afterwards.
var (
	registryOnce sync.Once
	registryVal  *registry
)

func builtins() *registry {
	registryOnce.Do(func() { registryVal = buildRegistry() })
	return registryVal
}

func typeOfValue(v any) *typeInfo { return builtins().typeOf(v) }

// findMethod looks a method up on t, then on enumerables' LINQ and object's members.
func (r *registry) findMethod(t *typeInfo, name string) *method {
	if t != nil {
		if m := t.methods[name]; m != nil {
			return m
		}
		if t.enumerable {
			if m := r.linq[name]; m != nil {
				return m
			}
		}
	}
	return r.objMethods[name]
}

func (r *registry) alias(t *typeInfo, names ...string) {
	for _, n := range names {
		r.types[n] = t
	}
}

func buildRegistry() *registry {
	r := &registry{
		types:       map[string]*typeInfo{},
		memberNames: map[string]bool{},
		nullRecv:    map[string]bool{},
		linq:        map[string]*method{},
		objMethods:  map[string]*method{},
		namespaces: map[string]bool{
			"System": true, "System.Text": true, "System.Linq": true, "System.Collections": true,
			"System.Collections.Generic": true, "System.Security": true, "System.Security.Cryptography": true,
			"System.Text.RegularExpressions": true, "System.Net": true, "Newtonsoft": true,
			"Newtonsoft.Json": true, "Newtonsoft.Json.Linq": true, "System.Xml": true, "System.Xml.Linq": true,
			"System.IO": true, "System.Reflection": true, "System.Diagnostics": true, "System.Threading": true,
			"System.Threading.Tasks": true, "System.Web": true, "System.Globalization": true,
			"System.Security.Cryptography.X509Certificates": true, "System.Net.Http": true,
			"System.Runtime": true, "System.Runtime.InteropServices": true,
		},
		denied: map[string]string{},
	}
	for _, n := range []string{"System.IO.File", "System.IO.Directory", "System.IO.Path", "System.IO.FileStream",
		"System.IO.StreamReader", "System.IO.StreamWriter", "System.Net.Http.HttpClient", "System.Net.WebClient",
		"System.Net.WebRequest", "System.Net.Sockets", "System.Diagnostics.Process", "System.Reflection.Assembly",
		"System.Activator", "System.Environment", "System.Threading.Thread", "System.Threading.Tasks.Task",
		"System.AppDomain", "System.Type", "System.GC", "System.Runtime.InteropServices.Marshal", "System.Console"} {
		r.denied[n] = "is not available in policy expressions"
	}
	r.buildCore()
	r.buildContext()
	r.buildJSON()
	r.buildJwt()
	r.buildCollections()
	r.buildStatics()
	r.buildLinq()
	r.buildXML()
	r.buildBits()
	r.buildXMLDOM()
	r.buildXMLReader()
	for _, t := range r.types {
		for n := range t.props {
			r.memberNames[n] = true
		}
		for n, m := range t.methods {
			r.memberNames[n] = true
			if m.nullRecv {
				r.nullRecv[n] = true
			}
		}
	}
	for n := range r.linq {
		r.memberNames[n] = true
	}
	for n := range r.objMethods {
		r.memberNames[n] = true
	}
	return r
}
