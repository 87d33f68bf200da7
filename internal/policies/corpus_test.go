package policies

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"portcullis/internal/corpus"
	"portcullis/internal/keys"
	"portcullis/internal/policy"
	"portcullis/internal/policy/expr"
)

var updateCompat = flag.Bool("update", false, "rewrite docs/compatibility.md from the corpus run")

// issue5Elements are the policy elements issue 5 promises (plus validate-jwt and
// forward-request, which came before it, and <base/>).
var issue5Elements = map[string]bool{
	"base": true, "validate-jwt": true, "forward-request": true,
	"validate-azure-ad-token": true, "check-header": true, "ip-filter": true, "cors": true,
	"rate-limit-by-key": true, "quota-by-key": true, "rate-limit": true, "limit-concurrency": true,
	"set-header": true, "set-query-parameter": true, "set-method": true, "set-status": true,
	"set-body": true, "find-and-replace": true, "rewrite-uri": true, "set-backend-service": true,
	"return-response": true, "mock-response": true, "set-variable": true, "choose": true,
	"include-fragment": true, "send-request": true, "retry": true,
	"cache-lookup-value": true, "cache-store-value": true, "cache-remove-value": true,
	"cache-lookup": true, "cache-store": true, "trace": true,
	"authentication-basic": true, "authentication-certificate": true, "authentication-managed-identity": true,
	"json-to-xml": true, "xml-to-json": true, "emit-metric": true, "log-to-eventhub": true,
}

// corpusOutcome is how one document fared.
type corpusOutcome struct {
	file     string
	elements []string // policy elements it uses (INDEX.md)
	loaded   bool
	pipeline *policy.Pipeline // when loaded
	refusals []string         // "element <x>", ".NET X.Y", "template placeholder", "not well-formed XML"
	failure  string           // anything else
}

// inIssue5 reports a document whose policy elements are all in issue 5's list: those INDEX.md
// names and those the loader found in the fragments it includes.
func (o corpusOutcome) inIssue5() bool {
	for _, e := range o.elements {
		if !issue5Elements[e] {
			return false
		}
	}
	for _, r := range o.refusals {
		if strings.HasPrefix(r, "element <") {
			return false
		}
	}
	return true
}

// apimInvalid reports a document APIM refuses too (see corpusInvalidDocuments).
func (o corpusOutcome) apimInvalid() bool {
	for _, r := range o.refusals {
		if strings.HasPrefix(r, "invalid for APIM too") {
			return true
		}
	}
	return false
}

// TestCorpusLoads loads every real APIM policy document of the corpus as a user would and
// sorts it into loads, refused precisely, or failure; docs/compatibility.md keeps the result.
func TestCorpusLoads(t *testing.T) {
	dir := corpus.Find("apim-policies")
	if dir == "" {
		t.Skip("corpus not found: ../shared/corpus/apim-policies is absent beside the repository")
	}
	index := readCorpusIndex(t, filepath.Join(dir, "INDEX.md"))
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no policy documents in %s (%v)", dir, err)
	}
	sort.Strings(files)
	cert := corpusCertificate(t)
	var outcomes []corpusOutcome
	for _, f := range files {
		o := loadCorpusDocument(t, dir, f, cert)
		o.elements = index[o.file]
		if o.elements == nil {
			o.elements = scanElements(t, f)
		}
		outcomes = append(outcomes, o)
	}

	report := compatibilityReport(outcomes)
	var inList, inListLoaded int
	for _, o := range outcomes {
		if o.failure != "" {
			t.Errorf("%s: neither loads nor is refused precisely: %s", o.file, o.failure)
		}
		if o.inIssue5() && !o.apimInvalid() {
			inList++
			if o.loaded {
				inListLoaded++
			} else {
				t.Logf("%s (issue 5 elements only) refused: %s", o.file, strings.Join(o.refusals, "; "))
			}
		}
	}
	if inList == 0 || inListLoaded*10 < inList*9 {
		t.Errorf("%d of %d documents APIM accepts whose elements are all built load; at least 90%% must", inListLoaded, inList)
	}

	docPath := filepath.Join("..", "..", "docs", "compatibility.md")
	if *updateCompat {
		if err := os.WriteFile(docPath, []byte(report), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("docs/compatibility.md: %v (write it with go test ./internal/policies -run TestCorpusLoads -update)", err)
	}
	if string(have) != report {
		t.Errorf("docs/compatibility.md is not what the corpus gives today; regenerate it with\n  go test ./internal/policies -run TestCorpusLoads -update\nwant:\n%s", report)
	}
}

// corpusCodeNamedValues are named values the corpus splices into C# code rather than into
// a string: what their documents say the value is.
var corpusCodeNamedValues = map[string]string{
	"TokenEncryptionKey":                   "1", // which of TokenEncryptionKey1/2 is current
	"CookieEncryptionKey":                  "1",
	"MyTrafficSplitApp_TrafficSplitWeight": "50",
}

// corpusNamedValue gives a named value a placeholder of the kind its name says, as a user
// would fill it in: a URL, a tenant or client GUID, a base64 secret, a number, or text.
func corpusNamedValue(name string) string {
	if v, ok := corpusCodeNamedValues[name]; ok {
		return v
	}
	n := strings.ToLower(name)
	has := func(parts ...string) bool {
		for _, p := range parts {
			if strings.Contains(n, p) {
				return true
			}
		}
		return false
	}
	switch {
	case has("url", "endpoint", "uri", "host", "authorizationserver", "adress", "address-for"):
		return "https://placeholder.example"
	case has("tenant"):
		return "3f5b1c2e-0000-4000-8000-000000000001"
	case has("clientid", "client-id", "identity", "appclientid"):
		return "0b7e9d4c-0000-4000-8000-0000000000c1"
	case has("key", "secret", "-iv", "encryptioniv", "password"):
		// 35 bytes once decoded: long enough for every HMAC and AES use in the corpus.
		return "c2VjcmV0LXNpZ25pbmcta2V5LWZvci1jb3JwdXMtdGVzdHM="
	case has("count", "calls", "limit", "period", "seconds", "duration", "expiry", "timeout", "cachetime", "weight"):
		return "60"
	}
	return "placeholder-" + name
}

var (
	namedValueRef  = regexp.MustCompile(`\{\{([A-Za-z0-9._-]+)\}\}`)
	certificateRef = regexp.MustCompile(`certificate-id\s*=\s*"([^"@{}]+)"`)
	backendRef     = regexp.MustCompile(`backend-id\s*=\s*"([^"@]+)"`)
	fragmentRef    = regexp.MustCompile(`fragment-id\s*=\s*"([^"]+)"`)
	clientIDRef    = regexp.MustCompile(`client-id\s*=\s*"([^"@]+)"`)
	loggerRef      = regexp.MustCompile(`logger-id\s*=\s*"([^"]+)"`)
	rootName       = regexp.MustCompile(`^\x{FEFF}?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--(?s:.*?)-->\s*)*<([A-Za-z][\w-]*)`)
)

// loadCorpusDocument loads one document with the named values, certificates, backends,
// loggers and fragments it references, a bare snippet wrapped in a section.
func loadCorpusDocument(t *testing.T, dir, file string, cert *policy.Certificate) corpusOutcome {
	t.Helper()
	name := filepath.Base(file)
	o := corpusOutcome{file: name}
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	fragDir := t.TempDir()
	for _, m := range fragmentRef.FindAllStringSubmatch(text, -1) {
		id := m[1]
		frag := []byte("<fragment></fragment>")
		// A fragment the corpus holds is used as written (and its own references supplied).
		if matches, _ := filepath.Glob(filepath.Join(dir, "*__"+id+".xml")); len(matches) == 1 {
			frag, _ = os.ReadFile(matches[0])
			text += "\n" + string(frag)
		}
		if err := os.WriteFile(filepath.Join(fragDir, id+".xml"), frag, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nv := map[string]string{}
	for _, m := range namedValueRef.FindAllStringSubmatch(text, -1) {
		nv[m[1]] = corpusNamedValue(m[1])
	}
	certs := map[string]*policy.Certificate{}
	for _, m := range certificateRef.FindAllStringSubmatch(text, -1) {
		certs[m[1]] = cert
	}
	kc, err := keys.NewCache(keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	deps := Deps{
		ValidateJWT: ValidateJWTDeps{Keys: kc},
		SendRequest: SendRequestDeps{Client: loopbackClient()},
		Backends:    map[string]string{},
		EventHub:    EventHubDeps{Loggers: map[string]*EventLog{}},
		Metrics:     MetricsDeps{Registerer: prometheus.NewRegistry()},
		ManagedIdentity: ManagedIdentityDeps{Tokens: &ManagedIdentityTokens{
			System: &ManagedIdentity{TokenURL: TokenURL("https://127.0.0.1:1", "placeholder"), ClientID: "placeholder", ClientSecret: "placeholder"},
			Client: loopbackClient()}},
	}
	for _, m := range backendRef.FindAllStringSubmatch(text, -1) {
		deps.Backends[m[1]] = "https://backend.placeholder.example/api"
	}
	for _, m := range clientIDRef.FindAllStringSubmatch(text, -1) {
		id := namedValueRef.ReplaceAllStringFunc(m[1], func(ref string) string { return nv[ref[2:len(ref)-2]] })
		deps.ManagedIdentity.Tokens.UserAssigned = append(deps.ManagedIdentity.Tokens.UserAssigned,
			ManagedIdentity{TokenURL: TokenURL("https://127.0.0.1:1", "placeholder"), ClientID: id, ClientSecret: "placeholder"})
	}
	for _, m := range loggerRef.FindAllStringSubmatch(text, -1) {
		deps.EventHub.Loggers[m[1]] = NewEventLog(io.Discard)
	}
	l := &policy.Loader{Registry: Registry(deps), Expressions: expr.Compile, Certificates: certs,
		NamedValues: nv, FragmentsDir: fragDir}

	root := ""
	if m := rootName.FindStringSubmatch(text); m != nil {
		root = m[1]
	}
	var docs [][]byte
	switch root {
	case "policies":
		docs = [][]byte{src}
	case "fragment":
		// A fragment is included where it belongs: the first section that accepts it.
		if err := os.WriteFile(filepath.Join(fragDir, "corpus-fragment.xml"), src, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, sec := range []string{"inbound", "backend", "outbound", "on-error"} {
			docs = append(docs, []byte("<policies><"+sec+`><include-fragment fragment-id="corpus-fragment"/></`+sec+"></policies>"))
		}
	default:
		// A bare snippet goes into the section that accepts it.
		body := strings.TrimPrefix(strings.TrimSpace(text), "\ufeff")
		if strings.HasPrefix(body, "<?xml") {
			body = body[strings.Index(body, "?>")+2:]
		}
		for _, sec := range []string{"inbound", "backend", "outbound", "on-error"} {
			docs = append(docs, []byte("<policies><"+sec+">\n"+body+"\n</"+sec+"></policies>"))
		}
	}
	var firstErr error
	for _, d := range docs {
		doc, err := l.Load(name, d)
		var p *policy.Pipeline
		if err == nil {
			p, err = l.Compile(nil, doc, nil)
		}
		if err == nil {
			o.loaded, o.pipeline = true, p
			return o
		}
		if firstErr == nil || sectionRefusal(firstErr) && !sectionRefusal(err) {
			firstErr = err
		}
	}
	o.refusals, o.failure = classifyLoadError(name, firstErr, text)
	return o
}

func sectionRefusal(err error) bool {
	return strings.Contains(err.Error(), "is not allowed in the")
}

var (
	elementRefused = regexp.MustCompile(`policy element <([^>]+)> is not supported`)
	memberRefused  = regexp.MustCompile(`(?:the (?:member|method|name) )?'?([^']+?)'? (?:is|are) not available in policy expressions`)
	sectionRefused = regexp.MustCompile(`<([a-z-]+)> is not allowed in the ([a-z-]+) section`)
	placeholderVal = regexp.MustCompile(`"\{[A-Za-z0-9_-]*\}"`)
	// A template's placeholders: Terraform/Bicep ${x} and %{x}, and the {lower-case-name} of
	// the labs' notebooks, which fill them in before deploying.
	placeholderRef = regexp.MustCompile(`\$\{|%\{|(?:^|[^{$])\{[a-z]+(?:-[a-z]+)+\}`)
)

// corpusInvalidDocuments are documents APIM refuses as well, with the error Portcullis must
// give: the corpus holds them as written.
var corpusInvalidDocuments = map[string]struct{ msg, why string }{
	"snippets__examples__Call_out_to_an_HTTP_endpoint_and_cache_the_response.policy.xml":           {"never closes", "a re-serialised expression whose brackets no longer close"},
	"snippets__examples__Loopback_request_for_service_at_same_API_Management_service.xml":          {"expected ')'", "a re-serialised expression (attribute syntax inside a C# string)"},
	"snippets__examples__Pre-authorize_requests_based_on_HTTP_method_with_validate-jwt.policy.xml": {"expected ')'", "a re-serialised expression (attribute syntax inside a C# string)"},
	"snippets__examples__DELETE_a_from_to_blobStorage_account.xml":                                 {"MatchedParameters is a property, not a method", "calls MatchedParameters(...) like a method, which C# refuses"},
	"snippets__examples__GET_a_file_from_blobStorage_account.xml":                                  {"MatchedParameters is a property, not a method", "calls MatchedParameters(...) like a method, which C# refuses"},
	"snippets__examples__PUT_a_file_to_blobStorage_account.xml":                                    {"MatchedParameters is a property, not a method", "calls MatchedParameters(...) like a method, which C# refuses"},
	"snippets__examples__Generate_Azure_Relay_Token.policy.xml":                                    {`base-url: "" is not an absolute`, "an empty base-url"},
	"azure-docs__validate-jwt-policy__ex4_entra-customer-tenant-ciam.xml":                          {"", "raw '<' in an attribute value"},
	"policy-toolkit__test__Test.Decompiling__TestData__emit-metric.xml":                            {"needs a value", "a custom emit-metric dimension without a value"},
	"policy-toolkit__test__Test.Decompiling__TestData__validate-jwt.xml":                           {`<key> has no attribute "id"`, "a <key id=...> attribute that validate-jwt does not have"},
}

// classifyLoadError sorts a load error: precise refusals name what is not built, a section
// APIM does not allow, a template placeholder, or a document APIM refuses too; anything else
// is a failure.
func classifyLoadError(file string, err error, src string) (refusals []string, failure string) {
	errs := policy.Errors(err)
	if len(errs) == 0 {
		return nil, fmt.Sprintf("an error without a position: %v", err)
	}
	lines := strings.Split(src, "\n")
	seen := map[string]bool{}
	add := func(r string) {
		if !seen[r] {
			seen[r] = true
			refusals = append(refusals, r)
		}
	}
	invalid, isInvalid := corpusInvalidDocuments[file]
	for _, e := range errs {
		if e.Pos.Line == 0 {
			return nil, "an error without a line: " + e.Error()
		}
		msg := e.Msg
		switch {
		case elementRefused.MatchString(msg):
			add("element <" + elementRefused.FindStringSubmatch(msg)[1] + ">")
		case memberRefused.MatchString(msg):
			add(".NET " + memberRefused.FindStringSubmatch(msg)[1])
		case sectionRefused.MatchString(msg):
			m := sectionRefused.FindStringSubmatch(msg)
			add("<" + m[1] + "> in " + m[2] + ", where APIM does not allow it")
		case placeholderVal.MatchString(msg) ||
			e.Pos.File == file && e.Pos.Line <= len(lines) && placeholderRef.MatchString(lines[e.Pos.Line-1]):
			add("unrendered template placeholder")
		case isInvalid && strings.Contains(msg, invalid.msg):
			add("invalid for APIM too: " + invalid.why)
		default:
			return nil, e.Error()
		}
	}
	return refusals, ""
}

// readCorpusIndex reads INDEX.md's table: file → policy elements.
func readCorpusIndex(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("corpus index: %v", err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		cols := strings.Split(line, "|")
		if len(cols) < 5 || !strings.HasSuffix(strings.TrimSpace(cols[1]), ".xml") {
			continue
		}
		var els []string
		for _, e := range strings.Split(cols[3], ",") {
			if e = strings.TrimSpace(e); e != "" {
				els = append(els, e)
			}
		}
		out[strings.TrimSpace(cols[1])] = els
	}
	return out
}

var tagName = regexp.MustCompile(`<([a-z][a-z0-9-]*)[\s/>]`)

// scanElements is the fallback for a document INDEX.md does not list: its element names
// outside comments, less sections and settings of other policies that issue 5 knows.
func scanElements(t *testing.T, file string) []string {
	t.Helper()
	data, _ := os.ReadFile(file)
	s := regexp.MustCompile(`(?s)<!--.*?-->`).ReplaceAllString(string(data), "")
	seen := map[string]bool{}
	var out []string
	for _, m := range tagName.FindAllStringSubmatch(s, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	return out
}

// corpusCertificate is one self-signed certificate with its key for every certificate-id.
func corpusCertificate(t *testing.T) *policy.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "corpus placeholder"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &policy.Certificate{ID: "placeholder", Chain: []*x509.Certificate{c}, Key: key}
}

// compatibilityReport is docs/compatibility.md.
func compatibilityReport(outcomes []corpusOutcome) string {
	var all, loaded, refused, failed, inList, inListLoaded, inListRefused, inListInvalid int
	reasons := map[string]int{}
	for _, o := range outcomes {
		all++
		switch {
		case o.loaded:
			loaded++
		case o.failure != "":
			failed++
		default:
			refused++
			for _, r := range o.refusals {
				reasons[r]++
			}
		}
		if o.inIssue5() {
			inList++
			if o.loaded {
				inListLoaded++
			} else if o.failure == "" {
				inListRefused++
			}
			if o.apimInvalid() {
				inListInvalid++
			}
		}
	}
	pct := func(n, d int) string {
		if d == 0 {
			return "0%"
		}
		return fmt.Sprintf("%d%%", (n*100+d/2)/d)
	}
	var b strings.Builder
	b.WriteString("# Compatibility with real APIM policy documents\n\n")
	b.WriteString("Generated by `go test ./internal/policies -run TestCorpusLoads -update` from the public corpus\n")
	b.WriteString("(`../shared/corpus/apim-policies/`); the test fails when this file no longer matches.\n")
	b.WriteString("Each document is loaded as a user would: placeholder named values, certificates, backends,\n")
	b.WriteString("loggers and fragments for the ids it references; a bare snippet or a fragment is placed in\n")
	b.WriteString("the first section that accepts it.\n\n")
	b.WriteString("| documents | count | share |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| all | %d | 100%% |\n", all)
	fmt.Fprintf(&b, "| load and compile | %d | %s |\n", loaded, pct(loaded, all))
	fmt.Fprintf(&b, "| refused with a precise message | %d | %s |\n", refused, pct(refused, all))
	fmt.Fprintf(&b, "| failure (neither) | %d | %s |\n", failed, pct(failed, all))
	fmt.Fprintf(&b, "| using only elements Portcullis builds | %d | %s |\n", inList, pct(inList, all))
	fmt.Fprintf(&b, "| of those, load and compile | %d | %s |\n", inListLoaded, pct(inListLoaded, inList))
	fmt.Fprintf(&b, "| of those, refused with a precise message | %d | %s |\n", inListRefused, pct(inListRefused, inList))
	fmt.Fprintf(&b, "| of those, refused by APIM too (invalid as written) | %d | %s |\n", inListInvalid, pct(inListInvalid, inList))
	fmt.Fprintf(&b, "| of those APIM accepts, load and compile | %d | %s |\n\n", inListLoaded, pct(inListLoaded, inList-inListInvalid))

	type kv struct {
		k string
		n int
	}
	var elems, members, other []kv
	for k, n := range reasons {
		switch {
		case strings.HasPrefix(k, "element "):
			elems = append(elems, kv{strings.TrimPrefix(k, "element "), n})
		case strings.HasPrefix(k, ".NET "):
			members = append(members, kv{strings.TrimPrefix(k, ".NET "), n})
		default:
			other = append(other, kv{k, n})
		}
	}
	for _, l := range [][]kv{elems, members, other} {
		sort.Slice(l, func(i, j int) bool {
			if l[i].n != l[j].n {
				return l[i].n > l[j].n
			}
			return l[i].k < l[j].k
		})
	}
	b.WriteString("## Policy elements refused (not built), most frequent first\n\n")
	b.WriteString("| element | documents |\n|---|---|\n")
	for _, e := range elems {
		fmt.Fprintf(&b, "| `%s` | %d |\n", strings.Trim(e.k, "<>"), e.n)
	}
	b.WriteString("\n## .NET types and members refused in policy expressions, most frequent first\n\n")
	b.WriteString("| type or member | documents |\n|---|---|\n")
	if len(members) == 0 {
		b.WriteString("| (none) | 0 |\n")
	}
	for _, m := range members {
		fmt.Fprintf(&b, "| `%s` | %d |\n", m.k, m.n)
	}
	b.WriteString("\n## Other refusals\n\n")
	b.WriteString("| reason | documents |\n|---|---|\n")
	if len(other) == 0 {
		b.WriteString("| (none) | 0 |\n")
	}
	for _, m := range other {
		fmt.Fprintf(&b, "| %s | %d |\n", m.k, m.n)
	}
	b.WriteString(compatibilityNotes)
	return b.String()
}

// compatibilityNotes are the behaviours where Portcullis knowingly differs from APIM.
const compatibilityNotes = `
## Known differences in the policies that load

- ` + "`mock-response`" + ` answers with the status and content type only: Portcullis has no API
  definitions to take examples from (APIM answers the same way when none exists).
- ` + "`set-backend-service`" + `: Service Fabric attributes (` + "`sf-*`" + `) are refused; ` + "`backend-id`" + ` names an entry
  of ` + "`gateway.backends`" + ` (a base URL), not an Azure backend entity with pools or circuit breakers.
- ` + "`retry`" + `: a policy inside it that fails (e.g. forward-request cannot reach the backend) ends the
  retry and goes to on-error; the condition is evaluated only after attempts that completed.
- ` + "`json-to-xml`" + `: ` + "`namespace-separator`" + `, ` + "`namespace-prefix`" + ` and ` + "`attribute-block-name`" + ` are refused; a
  top-level JSON array becomes repeated ` + "`<Item>`" + ` elements under ` + "`<Document>`" + `.
- ` + "`xml-to-json`" + `: ` + "`javascript-friendly`" + ` is the ` + "`direct`" + ` form without the XML declaration.
- ` + "`set-body template=\"liquid\"`" + ` is honoured inside ` + "`return-response`" + ` too; Liquid's ` + "`body`" + ` is the JSON
  body, an XML body as an object from its root element (names without namespace prefixes,
  attributes as ` + "`@name`" + `), or the text, and filters are accepted in C# (` + "`Default`" + `, ` + "`Upcase`" + `) and Liquid (` + "`default`" + `) spelling.
- ` + "`cors terminate-unmatched-request=\"false\"`" + `: an unmatched preflight goes on to the policies after
  ` + "`cors`" + ` (another ` + "`cors`" + ` there can answer it); APIM answers an empty 200 when no other ` + "`cors`" + ` follows.
- ` + "`trace`" + ` messages go to the gateway's trace sink when one is configured, and are not evaluated otherwise.
- ` + "`check-header`" + `: the value of a credential header (Authorization, Cookie, names with key, secret,
  token or password) is not repeated in ` + "`context.LastError.Message`" + `.
`

// loopbackClient dials only this machine: the placeholder hosts of corpus documents fail at
// once instead of reaching the network.
func loopbackClient() *http.Client {
	dialer := &net.Dialer{Timeout: time.Second}
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("corpus run: %s is not on this machine", addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}}
}

// loopbackBackend forwards like the gateway, only to this machine.
type loopbackBackend struct{}

func (b loopbackBackend) Forward(ctx *policy.Context, opt policy.ForwardOptions) error {
	if ctx.Request.URL.Host != "127.0.0.1" {
		return fmt.Errorf("corpus run: backend %s is not on this machine", ctx.Request.URL.Host)
	}
	return netBackend{}.Forward(ctx, opt)
}

// TestCorpusRuns sends one ordinary request through every corpus document that loads: none may
// panic, and each must end with a status the gateway can send.
func TestCorpusRuns(t *testing.T) {
	dir := corpus.Find("apim-policies")
	if dir == "" {
		t.Skip("corpus not found: ../shared/corpus/apim-policies is absent beside the repository")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	cert := corpusCertificate(t)
	srv := newBackendServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id": 42, "name": "Widget"}`)
	})
	ran := 0
	for _, f := range files {
		o := loadCorpusDocument(t, dir, f, cert)
		if !o.loaded {
			continue
		}
		ran++
		ctx := newFlowContext(t, srv, call{method: "POST", path: "/orders/42", body: `{"name": "Widget"}`,
			params: map[string]string{"id": "42"},
			header: [][2]string{{"Content-Type", "application/json"}, {"Authorization", "Bearer not-a-token"}}})
		ctx.Backend = loopbackBackend{}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: panic: %v", o.file, r)
				}
			}()
			_ = o.pipeline.Run(ctx)
		}()
		if ctx.Response == nil || ctx.Response.StatusCode < 100 || ctx.Response.StatusCode > 599 {
			t.Errorf("%s: ended with no sendable status (%+v)", o.file, ctx.Response)
		}
	}
	if ran == 0 {
		t.Fatal("no corpus document loaded")
	}
}
