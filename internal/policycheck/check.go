package policycheck

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"portcullis/internal/policy"
)

// Severity says whether a finding stops the document from loading (Error) or is a likely
// mistake in a document that loads (Warning).
type Severity int

const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Rule names what a finding is about, so that callers and tests need not parse messages.
type Rule string

const (
	RuleLoad           Rule = "load"            // the loader or a policy's compiler refused the document
	RuleMissingBase    Rule = "missing-base"    // a section below the global scope without <base/>
	RuleIssuerVersion  Rule = "issuer-version"  // openid-config and <issuers> of different token versions
	RuleAudienceFormat Rule = "audience-format" // an aud value the token version never carries
)

// Finding is one problem at a position in a policy file.
type Finding struct {
	Pos      policy.Pos
	Severity Severity
	Rule     Rule
	Msg      string
}

func (f Finding) String() string {
	where := f.Pos.String()
	if f.Pos.Line == 0 {
		where = f.Pos.File // the file as a whole: it could not be read
	}
	s := fmt.Sprintf("%s: %s: %s", where, f.Severity, f.Msg)
	if f.Rule != RuleLoad {
		s += " [" + string(f.Rule) + "]"
	}
	return s
}

// Checker checks policy documents with a loader set up like the gateway's (registry,
// expression compiler, named values, fragments, certificates).
type Checker struct {
	Loader *policy.Loader
	// Scope is the scope the documents are written for: policy.ScopeGlobal, ScopeProduct,
	// ScopeAPI or ScopeOperation.
	Scope string
}

// CheckFile loads and compiles the document at path and returns its findings in file order.
func (c *Checker) CheckFile(path string) []Finding {
	doc, err := c.Loader.LoadFile(path)
	if err != nil {
		return loadFindings(path, err)
	}
	var out []Finding
	if !doc.Fragment {
		if err := c.Loader.Check(doc, c.Scope); err != nil {
			out = append(out, loadFindings(path, err)...)
		}
		out = append(out, c.missingBase(doc)...)
	}
	walk(doc.Root, func(el *policy.Element) {
		if el.Name == "validate-jwt" {
			out = append(out, checkValidateJWT(el)...)
		}
	})
	sortFindings(out)
	return out
}

func loadFindings(path string, err error) []Finding {
	errs := policy.Errors(err)
	if len(errs) == 0 {
		return []Finding{{Pos: policy.Pos{File: path}, Severity: Error, Rule: RuleLoad, Msg: err.Error()}}
	}
	out := make([]Finding, len(errs))
	for i, e := range errs {
		out[i] = Finding{Pos: e.Pos, Severity: Error, Rule: RuleLoad, Msg: e.Msg}
	}
	return out
}

var sectionNames = []string{"inbound", "backend", "outbound", "on-error"}

// missingBase warns about each section that leaves out <base/> below the global scope: APIM
// then runs none of the scope above's policies for that section, which is rarely meant.
func (c *Checker) missingBase(doc *policy.Document) []Finding {
	if c.Scope == policy.ScopeGlobal {
		return nil
	}
	var out []Finding
	for _, name := range sectionNames {
		sec, ok := doc.Section(name)
		if !ok {
			continue
		}
		hasBase := false
		for _, ch := range sec.Children {
			hasBase = hasBase || ch.Name == "base"
		}
		if !hasBase {
			out = append(out, Finding{Pos: sec.Pos, Severity: Warning, Rule: RuleMissingBase,
				Msg: fmt.Sprintf("<%s> has no <base/>: the policies of the scope above (%s) do not run for this section; add <base/> where they should run", name, parentScope(c.Scope))})
		}
	}
	return out
}

func parentScope(scope string) string {
	switch scope {
	case policy.ScopeOperation:
		return "the API's and the global policy"
	case policy.ScopeProduct:
		return "the global policy"
	}
	return "the product's and the global policy"
}

// tokenVersion is an Entra access token version, as its issuer and discovery URL show it.
type tokenVersion int

const (
	versionUnknown tokenVersion = iota
	v1
	v2
)

func (v tokenVersion) String() string {
	switch v {
	case v1:
		return "v1.0"
	case v2:
		return "v2.0"
	}
	return "unknown"
}

// discoveryVersion reads the token version from an Entra-shaped discovery URL:
// …/{tenant}/v2.0/.well-known/openid-configuration is v2.0, …/{tenant}/.well-known/… v1.0.
func discoveryVersion(raw string) tokenVersion {
	u, err := url.Parse(raw)
	if err != nil {
		return versionUnknown
	}
	p := strings.TrimSuffix(u.Path, "/")
	base, ok := strings.CutSuffix(p, "/.well-known/openid-configuration")
	if !ok {
		return versionUnknown
	}
	if strings.HasSuffix(base, "/v2.0") {
		return v2
	}
	return v1
}

// issuerVersion reads the token version from an Entra-shaped issuer:
// https://login.microsoftonline.com/{tenant}/v2.0 is v2.0, https://sts.windows.net/{tenant}/ v1.0
// (Portcullis's identity service follows the same shapes under its own host).
func issuerVersion(raw string) tokenVersion {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return versionUnknown
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	switch {
	case len(segs) >= 2 && segs[len(segs)-1] == "v2.0":
		return v2
	case len(segs) == 1 && segs[0] != "" && strings.HasSuffix(u.Path, "/"):
		return v1
	}
	return versionUnknown
}

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

type located struct {
	value string
	pos   policy.Pos
}

// checkValidateJWT compares the token version the openid-config URL and the issuers name, and
// the audiences with what Entra puts in aud for that version.
func checkValidateJWT(el *policy.Element) []Finding {
	var configs, issuers []located
	// Each <audiences>, and each required aud claim, is one list of alternatives: a value of
	// the wrong shape is harmless beside one of the right shape (samples list both).
	var audGroups [][]located
	for _, ch := range el.Children {
		switch ch.Name {
		case "openid-config":
			if a, ok := ch.Attr("url"); ok {
				configs = append(configs, located{strings.TrimSpace(a.Value), a.Pos})
			}
		case "issuers":
			issuers = append(issuers, texts(ch, "issuer")...)
		case "audiences":
			audGroups = append(audGroups, texts(ch, "audience"))
		case "required-claims":
			for _, claim := range ch.Children {
				if n, ok := claim.Attr("name"); ok && claim.Name == "claim" && n.Value == "aud" {
					audGroups = append(audGroups, texts(claim, "value"))
				}
			}
		}
	}
	var out []Finding
	version, versionFrom := versionUnknown, ""
	for _, c := range configs {
		if v := discoveryVersion(c.value); v != versionUnknown {
			version, versionFrom = v, "the "+v.String()+" openid-config "+c.value
			break
		}
	}
	for _, iss := range issuers {
		v := issuerVersion(iss.value)
		if v == versionUnknown {
			continue
		}
		if version == versionUnknown {
			version, versionFrom = v, "the "+v.String()+" issuer "+iss.value
			continue
		}
		if v != version && len(configs) > 0 {
			out = append(out, Finding{Pos: iss.pos, Severity: Warning, Rule: RuleIssuerVersion,
				Msg: fmt.Sprintf("issuer %s is a %s issuer but %s is the %s discovery document: %s tokens carry iss %s; use the issuer of the version the API's tokens are (the API app's requestedAccessTokenVersion)",
					iss.value, v, configURL(configs), version, version, exampleIssuer(version))})
		}
	}
	if version == versionUnknown {
		return out
	}
	for _, group := range audGroups {
		out = append(out, checkAudiences(group, version, versionFrom)...)
	}
	return out
}

// checkAudiences warns about a list of accepted aud values none of which the token version
// carries.
func checkAudiences(group []located, version tokenVersion, versionFrom string) []Finding {
	fits := func(a located) bool {
		isURI := strings.HasPrefix(strings.ToLower(a.value), "api://")
		isGUID := guidPattern.MatchString(a.value)
		return (version == v2 && !isURI) || (version == v1 && !isGUID)
	}
	for _, a := range group {
		if fits(a) {
			return nil
		}
	}
	var out []Finding
	for _, a := range group {
		switch {
		case version == v2 && strings.HasPrefix(strings.ToLower(a.value), "api://"):
			out = append(out, Finding{Pos: a.pos, Severity: Warning, Rule: RuleAudienceFormat,
				Msg: fmt.Sprintf("audience %s is an Application ID URI, but %s means v2.0 tokens, whose aud is always the API app's client ID (a GUID) in Entra ID; use the client ID, or v1.0 settings if the API app issues v1.0 tokens", a.value, versionFrom)})
		case version == v1 && guidPattern.MatchString(a.value):
			out = append(out, Finding{Pos: a.pos, Severity: Warning, Rule: RuleAudienceFormat,
				Msg: fmt.Sprintf("audience %s is a bare client ID, but %s means v1.0 tokens, whose aud in Entra ID is the Application ID URI the client asked for (api://…) unless it asked for the client ID itself; add the Application ID URI, or use v2.0 settings if the API app issues v2.0 tokens", a.value, versionFrom)})
		}
	}
	return out
}

func configURL(configs []located) string {
	for _, c := range configs {
		if discoveryVersion(c.value) != versionUnknown {
			return c.value
		}
	}
	return ""
}

func exampleIssuer(v tokenVersion) string {
	if v == v1 {
		return "https://sts.windows.net/{tenant}/"
	}
	return "https://login.microsoftonline.com/{tenant}/v2.0"
}

// texts returns the trimmed text of el's children called name, leaving out expressions,
// whose value is known only per request.
func texts(el *policy.Element, name string) []located {
	var out []located
	for _, ch := range el.Children {
		if ch.Name != name {
			continue
		}
		v := strings.TrimSpace(ch.Text)
		if v == "" || strings.HasPrefix(v, "@") {
			continue
		}
		out = append(out, located{v, ch.TextPos})
	}
	return out
}

func walk(el *policy.Element, fn func(*policy.Element)) {
	fn(el)
	for _, ch := range el.Children {
		walk(ch, fn)
	}
}
