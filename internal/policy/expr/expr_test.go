package expr

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"portcullis/internal/jwt"
	"portcullis/internal/policy"
)

// signedToken makes an ES256 JWT with a key generated for the test; AsJwt only decodes, so
// the signature is real but never checked.
func signedToken(t testing.TB, claims map[string]any) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(map[string]any{"alg": "ES256", "typ": "JWT", "kid": "k1"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

var testClaims = map[string]any{
	"sub":    "user-42",
	"iss":    "https://login.example/tenant/v2.0",
	"aud":    []string{"api://backend", "api://other"},
	"exp":    1900000000,
	"nbf":    1700000000,
	"iat":    1700000000,
	"jti":    "id-1",
	"roles":  []string{"reader", "admin"},
	"group":  []string{"finance", "hr"},
	"scp":    "Files.Read Files.Write",
	"appid":  "client-app",
	"email":  "alice@contoso.example",
	"amount": 12.5,
	"mfa":    true,
}

func testContext(t testing.TB) *policy.Context {
	t.Helper()
	raw := signedToken(t, testClaims)
	decoded, err := decodeToken(raw)
	if err != nil {
		t.Fatal(err)
	}
	req := &policy.Request{
		Method:            "POST",
		URL:               policy.URL{Scheme: "https", Host: "backend.internal", Port: 8443, Path: "/api/items/7", Query: policy.ParseQuery("a=1&b=two&a=3")},
		OriginalURL:       policy.URL{Scheme: "https", Host: "gw.contoso.example", Port: 443, Path: "/echo/items/7", Query: policy.ParseQuery("a=1&b=two&a=3")},
		IPAddress:         netip.MustParseAddr("203.0.113.9"),
		MatchedParameters: map[string]string{"id": "7"},
	}
	req.Header.Add("Authorization", "Bearer "+raw)
	req.Header.Add("X-Multi", "one")
	req.Header.Add("x-multi", "two")
	req.Header.Add("Content-Type", "application/json")
	req.Header.Add("Cookie", "a=1; session=abc; theme=dark")
	req.Body.Set([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"n":2,"ok":true}`))
	resp := &policy.Response{StatusCode: 503, StatusReason: "Backend pool unavailable"}
	resp.Header.Add("Cache-Control", "public, max-age=120")
	return &policy.Context{
		Request:  req,
		Response: resp,
		Variables: map[string]any{
			"jwt":      decoded,
			"name":     "alice",
			"count":    3,
			"isMobile": true,
			"now":      time.Date(2026, 11, 25, 20, 30, 5, 0, time.UTC),
			"idToken":  raw,
			"json":     `{"a":{"b":[1,2,3]},"s":"x"}`,
		},
		LastError: &policy.LastError{Source: "validate-jwt", Reason: "TokenExpired", Message: "Lifetime validation failed", Section: "inbound", Scope: "api"},
		API:       &policy.API{ID: "echo-api", Name: "Echo", Path: "echo"},
		Operation: &policy.Operation{ID: "get-item", Method: "GET", Name: "Get item", URLTemplate: "/items/{id}"},
		RequestID: "0b4a3c4e-1111-4222-8333-444455556666",
		Timestamp: time.Now().Add(-time.Second),
	}
}

func pos() policy.Pos { return policy.Pos{File: "policy.xml", Line: 10, Col: 20} }

func mustCompile(t testing.TB, src string) policy.Expression {
	t.Helper()
	x, err := Compile(src, pos())
	if err != nil {
		t.Fatalf("Compile(%s): %v", src, err)
	}
	return x
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // policy.ToString of the result
	}{
		// reference §4.6, the JWT forms
		{"subject from header", `@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject)`, "user-42"},
		{"split bearer", `@(context.Request.Headers.GetValueOrDefault("Authorization","").Split(' ')[1].AsJwt()?.Subject)`, "user-42"},
		{"null-conditional split claim", `@(context.Request.Headers.GetValueOrDefault("Authorization")?.Split(' ')?[1].AsJwt()?.Claims["roles"].FirstOrDefault())`, "reader"},
		{"claim contains", `@(((Jwt)context.Variables["jwt"]).Claims["group"].Contains("finance"))`, "True"},
		{"array exists", `@{ var jwt = (Jwt)context.Variables["jwt"]; return Array.Exists(jwt.Claims["roles"], e => e == "admin"); }`, "True"},
		{"claim default", `@(((Jwt)context.Variables["jwt"]).Claims.GetValueOrDefault("missing", "unknown"))`, "unknown"},
		{"claim joined", `@(((Jwt)context.Variables["jwt"]).Claims.GetValueOrDefault("roles", ""))`, "reader,admin"},
		{"claims contains key", `@(((Jwt)context.Variables["jwt"]).Claims.ContainsKey("email"))`, "True"},
		{"claim index zero", `@(((Jwt)context.Variables["jwt"]).Claims["email"][0])`, "alice@contoso.example"},
		{"missing claim is empty", `@(((Jwt)context.Variables["jwt"]).Claims["nope"].Length)`, "0"},
		{"id token nonce", `@((((string)context.Variables["idToken"]).AsJwt()).Claims.GetValueOrDefault("jti","missing"))`, "id-1"},
		{"try parse jwt", `@{ string h = context.Request.Headers.GetValueOrDefault("Authorization", ""); Jwt jwt; if (h.Split(' ')[1].TryParseJwt(out jwt)) { return jwt.Claims.GetValueOrDefault("appid", "none"); } return "bad"; }`, "client-app"},
		{"try parse out var", `@("garbage".TryParseJwt(out var j) ? "yes" : "no")`, "no"},
		{"jwt subject variable", `@(((Jwt)context.Variables["jwt"]).Subject)`, "user-42"},
		{"jwt fields", `@{ var j = (Jwt)context.Variables["jwt"]; return j.Algorithm + "|" + j.Issuer + "|" + j.Id + "|" + j.Type + "|" + string.Join(";", j.Audiences); }`, "ES256|https://login.example/tenant/v2.0|id-1|JWT|api://backend;api://other"},
		{"jwt expiry", `@(((Jwt)context.Variables["jwt"]).ExpirationTime.Value.Year)`, "2030"},
		{"jwt expiry compare", `@(((Jwt)context.Variables["jwt"]).ExpirationTime > DateTime.UtcNow)`, "True"},
		{"numeric claim text", `@(((Jwt)context.Variables["jwt"]).Claims["amount"][0] + "/" + ((Jwt)context.Variables["jwt"]).Claims["mfa"][0])`, "12.5/true"},
		{"malformed jwt is null", `@("not.a.jwt".AsJwt() == null)`, "True"},
		{"last error source", `@(context.LastError.Source == "validate-jwt" && context.LastError.Reason == "TokenExpired")`, "True"},
		{"original host", `@(context.Request.OriginalUrl.Host)`, "gw.contoso.example"},
		{"variables generic bool", `@(context.Variables.GetValueOrDefault<bool>("isMobile"))`, "True"},
		{"method check", `@(context.Request.Method == "POST")`, "True"},
		{"ip address", `@(context.Request.IpAddress)`, "203.0.113.9"},
		{"subscription null", `@(context.Subscription?.Key ?? "anonymous")`, "anonymous"},
		{"status code", `@(context.Response.StatusCode == 429 || (context.Response.StatusCode == 503 && context.Response.StatusReason.Contains("Backend pool")))`, "True"},

		// context model
		{"url parts", `@(context.Request.Url.Scheme + "://" + context.Request.Url.Host + ":" + context.Request.Url.Port + context.Request.Url.Path)`, "https://backend.internal:8443/api/items/7"},
		{"url to string", `@(context.Request.OriginalUrl.ToString())`, "https://gw.contoso.example/echo/items/7?a=1&b=two&a=3"},
		{"query string", `@(context.Request.Url.QueryString)`, "?a=1&b=two&a=3"},
		{"query joined", `@(context.Request.Url.Query.GetValueOrDefault("a", ""))`, "1,3"},
		{"query indexer", `@(context.Request.Url.Query["b"][0])`, "two"},
		{"header repeated", `@(context.Request.Headers.GetValueOrDefault("x-multi"))`, "one,two"},
		{"header missing default", `@(context.Request.Headers.GetValueOrDefault("X-None", "dflt"))`, "dflt"},
		{"header missing null", `@(context.Request.Headers.GetValueOrDefault("X-None") == null)`, "True"},
		{"header contains key", `@(context.Request.Headers.ContainsKey("content-type"))`, "True"},
		{"header indexer", `@(context.Request.Headers["X-Multi"].Length)`, "2"},
		{"matched parameter", `@(context.Request.MatchedParameters["id"])`, "7"},
		{"matched default", `@(context.Request.MatchedParameters.GetValueOrDefault("x", "none"))`, "none"},
		{"api and operation", `@(context.Api.Id + "/" + context.Operation.Name + "/" + context.Operation.UrlTemplate)`, "echo-api/Get item//items/{id}"},
		{"product null", `@(context.Product == null)`, "True"},
		{"request id", `@(context.RequestId.ToString().Length)`, "36"},
		{"elapsed", `@(context.Elapsed.TotalMilliseconds > 0)`, "True"},
		{"body as string", `@(context.Request.Body.As<string>(preserveContent: true).Length > 10)`, "True"},
		{"body as jobject", `@(context.Request.Body.As<JObject>(true)["model"].ToString())`, "gpt-4o"},
		{"body nested", `@((string)context.Request.Body.As<JObject>(preserveContent: true)["messages"][0]["role"])`, "user"},
		{"body null-conditional", `@{ var b = context.Request.Body?.As<JObject>(true); return (b != null && b["model"] != null) ? b["model"].ToString() : "unknown"; }`, "gpt-4o"},
		{"variable cast", `@((string)context.Variables["name"] + (int)context.Variables["count"])`, "alice3"},
		{"variable contains", `@(context.Variables.ContainsKey("name") && !context.Variables.ContainsKey("nope"))`, "True"},
		{"variable default", `@(context.Variables.GetValueOrDefault<string>("nope", "d"))`, "d"},
		{"variable date", `@(((DateTime)context.Variables["now"]).ToString("yyyyMMddTHHmmssZ"))`, "20261125T203005Z"},
		{"variable date u", `@(((DateTime)context.Variables["now"]).ToString("u"))`, "2026-11-25 20:30:05Z"},
		{"variable date o", `@(((DateTime)context.Variables["now"]).ToString("o"))`, "2026-11-25T20:30:05.0000000Z"},
		{"date add", `@(((DateTime)context.Variables["now"]).AddSeconds(3600).Hour)`, "21"},
		{"basic auth", `@("Basic dXNlcjpwYXNz".AsBasic().UserId + ":" + "Basic dXNlcjpwYXNz".AsBasic().Password)`, "user:pass"},

		// C#
		{"interpolation", `@($"{context.Request.Method} {context.Request.Url.Path} {1 + 2} {{x}}")`, "POST /api/items/7 3 {x}"},
		{"interpolation nested", `@{ var port = 8443; return $"https://h{(port != 443 ? $":{port}" : "")}/cb"; }`, "https://h:8443/cb"},
		{"interpolation format", `@($"{((DateTime)context.Variables["now"]):yyyy-MM-dd}")`, "2026-11-25"},
		{"verbatim", `@(@"C:\path ""q""")`, `C:\path "q"`},
		{"escapes", `@("a\tb\u0041\\")`, "a\tbA\\"},
		{"char literal", `@("a,b;c".Split(',', ';').Length)`, "3"},
		{"split options", `@("a,,b".Split(new[] {','}, StringSplitOptions.RemoveEmptyEntries).Length)`, "2"},
		{"split string array", `@("model/x/y".Split(new[] { "model/" }, 2, StringSplitOptions.None)[1])`, "x/y"},
		{"ternary and coalesce", `@((string)null ?? ("x" == "x" ? "yes" : "no"))`, "yes"},
		{"integer math", `@(7 / 2 + 7 % 2 * 10)`, "13"},
		{"double math", `@(7 / 2.0)`, "3.5"},
		{"long", `@(2147483647L + 1)`, "2147483648"},
		{"string equals ignore case", `@("Bearer".Equals("bearer", StringComparison.OrdinalIgnoreCase))`, "True"},
		{"string methods", `@("  Hello World  ".Trim().ToLower().Replace("world", "there").Substring(0, 5).ToUpper())`, "HELLO"},
		{"trim chars", `@("abc==".TrimEnd('=') + "|" + "xxaxx".Trim('x') + "|" + "/p".TrimStart('/'))`, "abc|a|p"},
		{"index of", `@("hello".IndexOf("l") + "hello".LastIndexOf('l'))`, "5"},
		{"starts ends", `@("Bearer abc".StartsWith("Bearer ") && "file.json".EndsWith(".JSON", StringComparison.OrdinalIgnoreCase))`, "True"},
		{"is null or empty", `@(string.IsNullOrEmpty(null) && string.IsNullOrWhiteSpace("  ") && !string.IsNullOrEmpty("a"))`, "True"},
		{"string format", `@(string.Format("{0}-{1:D3}-{0}", "a", 7))`, "a-007-a"},
		{"string join", `@(String.Join(",", new string[] {"a", "b"}) + string.Concat("x", 1, true))`, "a,bx1True"},
		{"bool prints", `@(true)`, "True"},
		{"linq any all", `@(new[] {1, 2, 3}.Any(x => x > 2) && new[] {1, 2, 3}.All(x => x > 0))`, "True"},
		{"linq where select", `@(string.Join("|", new[] {"a", "bb", "ccc"}.Where(s => s.Length > 1).Select(s => s.ToUpper()).ToArray()))`, "BB|CCC"},
		{"linq count sum orderby", `@(new[] {3, 1, 2}.OrderBy(x => x).First() + new[] {3, 1, 2}.Sum() * 10 + new[] {1, 2}.Count(x => x == 2) * 100)`, "161"},
		{"linq contains ignore case", `@(new [] {"post", "put"}.Contains(context.Request.Method, StringComparer.OrdinalIgnoreCase))`, "True"},
		{"linq to list", `@{ var l = new List<string>(); l.Add("a"); l.Add("b"); return l.Count + ":" + l.ToArray().Length; }`, "2:2"},
		{"foreach cookies", `@{ foreach (var c in context.Request.Headers.GetValueOrDefault("Cookie", "").Split(';')) { var t = c.Trim(); if (t.StartsWith("session=")) { return t.Substring(8); } } return "none"; }`, "abc"},
		{"for loop", `@{ int total = 0; for (int i = 0; i < 10; i++) { if (i == 5) { continue; } total += i; } return total; }`, "40"},
		{"while break", `@{ var n = 0; while (true) { n++; if (n >= 3) break; } return n; }`, "3"},
		{"switch", `@{ switch (context.Request.Method.ToLower()) { case "get": case "head": return "read"; case "post": return "write"; default: return "other"; } }`, "write"},
		{"catch by type", `@{ try { throw new InvalidOperationException("x"); } catch (FormatException) { return "wrong"; } catch (InvalidOperationException e) { return e.Message; } }`, "x"},
		{"try catch", `@{ try { return int.Parse("x12"); } catch (FormatException ex) { return "bad:" + (ex.Message.Length > 0); } }`, "bad:True"},
		{"int try parse", `@(int.TryParse("42", out var n) ? n * 2 : -1)`, "84"},
		{"convert base64", `@(Encoding.UTF8.GetString(Convert.FromBase64String(Convert.ToBase64String(Encoding.UTF8.GetBytes("héllo")))))`, "héllo"},
		{"sha256 hex", `@{ using (var sha = System.Security.Cryptography.SHA256.Create()) { return BitConverter.ToString(sha.ComputeHash(Encoding.UTF8.GetBytes("abc"))).Replace("-", "").ToLowerInvariant(); } }`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"hmac", `@(Convert.ToBase64String(new HMACSHA256(Encoding.UTF8.GetBytes("key")).ComputeHash(Encoding.UTF8.GetBytes("The quick brown fox jumps over the lazy dog"))))`, "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="},
		{"guid", `@(Guid.NewGuid().ToString().Length + Guid.NewGuid().ToString("N").Length)`, "68"},
		{"uri escape", `@(Uri.EscapeDataString("a b/c?d") + "|" + Uri.UnescapeDataString("a%20b"))`, "a%20b%2Fc%3Fd|a b"},
		{"new uri", `@(new Uri("https://x.example:8080/p/q?z=1").Port + new Uri("https://x.example/p").Host)`, "8080x.example"},
		{"regex", `@(Regex.Match("public, max-age=120", @"max-age=(?<maxAge>\d+)").Groups["maxAge"]?.Value)`, "120"},
		{"regex is match", `@(Regex.IsMatch("ABC-123", "^[a-z]+-\\d+$", RegexOptions.IgnoreCase))`, "True"},
		{"jtoken type", `@(JObject.Parse("{\"a\":null,\"b\":[1]}")["a"].Type == JTokenType.Null && JObject.Parse("{\"b\":[1]}")["b"].Type == JTokenType.Array)`, "True"},
		{"regex options combined", `@(Regex.IsMatch("A\nb", "^b$", RegexOptions.IgnoreCase | RegexOptions.Multiline))`, "True"},
		{"regex replace", `@(Regex.Replace("a1b22", "[0-9]+", "#"))`, "a#b#"},
		{"math", `@(Math.Max(3, 7) + Math.Min(2.5, 1) + Math.Round(2.345, 2) + Math.Abs(-1))`, "11.35"},
		{"timespan", `@(TimeSpan.FromMinutes(90).TotalHours)`, "1.5"},
		{"jobject build", `@(new JObject(new JProperty("a", 1), new JProperty("b", "x")).ToString(Newtonsoft.Json.Formatting.None))`, `{"a":1,"b":"x"}`},
		{"jobject initializer", `@(new JObject { ["error"] = "invalid_request", ["n"] = 2 }.ToString())`, "{\n  \"error\": \"invalid_request\",\n  \"n\": 2\n}"},
		{"jobject parse select", `@((int)JObject.Parse((string)context.Variables["json"]).SelectToken("a.b[2]"))`, "3"},
		{"jobject value", `@(JObject.Parse((string)context.Variables["json"]).Value<string>("s"))`, "x"},
		{"jarray", `@(new JArray("a", 2).ToString(Formatting.None))`, `["a",2]`},
		{"serialize anonymous", `@(JsonConvert.SerializeObject(new { resource = "r", scopes = new[] { "s1" }, n = 1.5 }))`, `{"resource":"r","scopes":["s1"],"n":1.5}`},
		{"deserialize", `@(JsonConvert.DeserializeObject<JObject>("{\"a\":[true]}")["a"][0].ToString())`, "True"},
		{"is pattern", `@(context.Variables["name"] is string s ? s.Length : -1)`, "5"},
		{"as cast", `@((context.Variables["count"] as string) == null)`, "True"},
		{"char ops", `@("abc"[1] == 'b')`, "True"},
		{"long constant folding", `@(1 + 2 * 3)`, "7"},
		{"dictionary", `@{ var d = new Dictionary<string, string> { { "a", "1" } }; d["b"] = "2"; return d.ContainsKey("b") + d["a"] + d.Count; }`, "True12"},
		{"aes round trip", `@{ var key = new byte[16]; var iv = new byte[16]; var enc = Encoding.UTF8.GetBytes("secret").Encrypt("Aes", key, iv); return Encoding.UTF8.GetString(enc.Decrypt("Aes", key, iv)); }`, "secret"},
		{"method group", `@("a1b2".Where(char.IsDigit).Count() + new[] {"1", "22"}.Select(int.Parse).Sum())`, "25"},
		{"lambda block", `@(new[] {1, 2, 3}.Select(x => { var y = x * 2; return y; }).Sum())`, "12"},
		{"compound assignment", `@{ var s = "a"; s += "b"; s += 1; var n = 5; n -= 2; n *= 3; return s + n; }`, "ab19"},
		{"web utility", `@(System.Net.WebUtility.UrlEncode("a b&c") + System.Net.WebUtility.UrlDecode("x+y%21"))`, "a+b%26cx y!"},
		{"datetime parse", `@(DateTime.Parse("2024-01-02T03:04:05Z").ToString("yyyy-MM-dd HH:mm:ss"))`, "2024-01-02 03:04:05"},
		{"interpolation alignment", `@($"[{"ab",4}][{"ab",-4}][{7,3:D2}]")`, "[  ab][ab  ][ 07]"},
		{"format alignment", `@(string.Format("[{0,5}]", 42))`, "[   42]"},
		{"json null is a value", `@(JObject.Parse("{\"a\":null}")["a"] != null && (string)JObject.Parse("{\"a\":null}")["a"] == null && JObject.Parse("{}")["a"] == null)`, "True"},
		{"unicode substring", `@("héllo wörld".Substring(7, 4) + "😀x".Length)`, "örld3"},
		{"date formats", `@(((DateTime)context.Variables["now"]).ToString("R") + "|" + ((DateTime)context.Variables["now"]).ToString("s") + "|" + ((DateTime)context.Variables["now"]).ToString("dddd, MMM d yyyy h:mm tt"))`, "Wed, 25 Nov 2026 20:30:05 GMT|2026-11-25T20:30:05|Wednesday, Nov 25 2026 8:30 PM"},
		{"datetime default print", `@(((DateTime)context.Variables["now"]).ToString())`, "11/25/2026 20:30:05"},
		{"timespan print", `@((((DateTime)context.Variables["now"]).AddMinutes(90) - (DateTime)context.Variables["now"]).ToString())`, "01:30:00"},
		{"xml elements", `@{ var doc = XDocument.Parse("<a xmlns='urn:x'><b id='1'>one</b><b id='2'>two</b><c><b id='3'>three</b></c></a>"); XNamespace ns = "urn:x"; return doc.Root.Elements(ns + "b").Count() + "|" + doc.Descendants(ns + "b").Last().Value + "|" + (string)doc.Root.Element(ns + "b").Attribute("id") + "|" + doc.Root.Name.LocalName; }`, "2|three|1|a"},
		{"xml element build", `@(new XElement("r", new XAttribute("k", "v"), new XElement("x", "a<b")).ToString())`, `<r k="v"><x>a&lt;b</x></r>`},
		{"xml missing element", `@(XElement.Parse("<a/>").Element("b") == null)`, "True"},
		{"array copy", `@{ var a = new byte[4]; Array.Copy(new byte[] {1, 2, 3}, 0, a, 1, 3); return BitConverter.ToString(a); }`, "00-01-02-03"},
		{"shifts", `@((1 << 4) + (256 >> 2) + new List<List<string>>().Count)`, "80"},
		{"random bounded", `@(new Random(7).Next(1, 3) >= 1)`, "True"},
	}
	ctx := testContext(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := mustCompile(t, tt.src)
			got, err := x.Eval(ctx)
			if err != nil {
				t.Fatalf("Eval(%s): %v", tt.src, err)
			}
			if s := policy.ToString(got); s != tt.want {
				t.Errorf("Eval(%s) = %q, want %q", tt.src, s, tt.want)
			}
		})
	}
}

func TestRuntimeErrors(t *testing.T) {
	tests := []struct {
		name, src, exception string
	}{
		{"null reference", `@(context.Subscription.Id.Length)`, "NullReferenceException"},
		{"bad cast", `@((Jwt)context.Variables["name"])`, "InvalidCastException"},
		{"variable missing", `@((string)context.Variables["nope"])`, "KeyNotFoundException"},
		{"generic type mismatch", `@(context.Variables.GetValueOrDefault<int>("name"))`, "InvalidCastException"},
		{"index out of range", `@("a b".Split(' ')[5])`, "IndexOutOfRangeException"},
		{"parse garbage", `@(int.Parse("12x"))`, "FormatException"},
		{"divide by zero", `@{ int z = 0; return 1 / z; }`, "DivideByZeroException"},
		{"substring range", `@("abc".Substring(2, 5))`, "ArgumentOutOfRangeException"},
		{"bad json", `@(JObject.Parse("{nope"))`, "JsonReaderException"},
		{"bad xml", `@(XDocument.Parse("<a><b></a>"))`, "XmlException"},
		{"bad base64", `@(Convert.FromBase64String("!!!"))`, "FormatException"},
		{"first of empty", `@(new string[0].First())`, "InvalidOperationException"},
		{"throw", `@{ throw new Exception("no"); }`, "Exception"},
		{"throw expression", `@((string)context.Variables.GetValueOrDefault("nope") ?? throw new ArgumentException("missing"))`, "ArgumentException"},
	}
	ctx := testContext(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := mustCompile(t, tt.src)
			v, err := x.Eval(ctx)
			var ee *EvalError
			var ex *Exception
			if !errors.As(err, &ee) || !errors.As(err, &ex) {
				t.Fatalf("Eval(%s) = %v, %v; want an %s", tt.src, v, err, tt.exception)
			}
			if ex.Type != tt.exception {
				t.Errorf("Eval(%s) threw %s (%v), want %s", tt.src, ex.Type, err, tt.exception)
			}
			if ee.Pos != pos() {
				t.Errorf("error position %v, want %v", ee.Pos, pos())
			}
		})
	}
}

func TestLimits(t *testing.T) {
	tests := []struct{ name, src string }{
		{"endless loop", `@{ while (true) { } }`},
		{"endless for", `@{ for (;;) { var x = 1; } }`},
		{"catch cannot swallow the budget", `@{ while (true) { try { while (true) { } } catch (Exception e) { } } }`},
		{"string doubling", `@{ var s = "x"; while (true) { s = s + s; } }`},
		{"huge padding", `@("x".PadLeft(100000000))`},
		{"huge array", `@(new string[100000000].Length)`},
		{"huge repeat", `@(new string('x', 100000000))`},
	}
	ctx := testContext(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := mustCompile(t, tt.src)
			_, err := x.Eval(ctx)
			if !errors.Is(err, ErrLimit) {
				t.Fatalf("Eval(%s) = %v, want ErrLimit", tt.src, err)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line, col int // where the error points, in the file (the expression starts at 10:20)
		msg       string
	}{
		{"file system", `@(System.IO.File.ReadAllText("/etc/passwd"))`, 10, 22, "System.IO.File is not available in policy expressions"},
		{"process", `@(System.Diagnostics.Process.Start("sh"))`, 10, 22, "System.Diagnostics.Process is not available"},
		{"reflection", `@(typeof(string))`, 10, 22, "typeof is not available"},
		{"environment", `@(Environment.GetEnvironmentVariable("X"))`, 10, 22, "System.Environment is not available"},
		{"http client", `@{ var c = new System.Net.Http.HttpClient(); return 1; }`, 10, 35, "System.Net.Http.HttpClient is not available"},
		{"unknown member", `@(context.Request.Foo)`, 10, 38, "IRequest.Foo is not available in policy expressions"},
		{"unknown jwt member", `@(((Jwt)context.Variables["x"]).Secret)`, 10, 52, "Jwt.Secret is not available"},
		{"unknown name", `@(foo + 1)`, 10, 22, "the name 'foo' does not exist"},
		{"unknown type", `@(new XmlSerializer())`, 10, 26, "XmlSerializer is not available"},
		{"syntax on line 2", "@{\n  return 1 +;\n}", 11, 13, "expected an expression"},
		{"unclosed string", `@("abc)`, 10, 22, "string literal is not closed"},
		{"missing return", `@{ var x = 1; }`, 10, 34, "not all code paths return a value"},
		{"trailing text", `@(1) + 2`, 10, 25, "unexpected \"+\""},
		{"property called", `@(context.Request.MatchedParameters("id"))`, 10, 38, "is a property, not a method"},
		{"arity", `@("a".Substring())`, 10, 26, "does not take 0 arguments"},
		{"not a delimiter", `@[1]`, 10, 20, "starts with @( or @{"},
		{"string in condition", `@(context.Request.Method ? 1 : 2)`, 10, 22, "the condition of ?: must be a bool, not String"},
		{"string minus", `@("a" - 1)`, 10, 26, "operator - cannot be applied to String"},
		{"if on int", `@{ if (1) { return 1; } return 2; }`, 10, 27, "the condition of if must be a bool, not Int32"},
		{"and on string", `@(context.Request.Method && true)`, 10, 22, "the left side of && must be a bool"},
		{"literal kept out of messages", `@("s3cr3t-value" "x")`, 10, 37, "expected ')' to close '@(', found a string literal"},
		{"variables are read-only", `@{ context.Variables["x"] = 1; return 1; }`, 10, 40, "is read-only"},
		{"request is read-only", `@{ context.Request.Method = "GET"; return 1; }`, 10, 39, "IRequest.Method is read-only"},
		{"nesting bound", "@(" + strings.Repeat("!", 300) + "true)", 10, 221, "nested more than 200 levels"},
		{"local function out parameter", `@{ void F(out int x) { x = 1; } return 1; }`, 10, 30, "out parameters of local functions are not available"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.src, pos())
			var pe *policy.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Compile(%s) = %v, want a *policy.Error", tt.src, err)
			}
			if strings.Contains(pe.Error(), "s3cr3t") {
				t.Errorf("the message repeats a string literal: %v", pe)
			}
			if !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("message %q, want it to contain %q", pe.Msg, tt.msg)
			}
			if pe.Pos.File != "policy.xml" || pe.Pos.Line != tt.line || pe.Pos.Col != tt.col {
				t.Errorf("position %v, want policy.xml:%d:%d", pe.Pos, tt.line, tt.col)
			}
		})
	}
}

func TestBodyReadWithoutPreserveEmptiesIt(t *testing.T) {
	ctx := testContext(t)
	x := mustCompile(t, `@(context.Request.Body.As<string>())`)
	first, err := x.Eval(ctx)
	if err != nil || first == "" {
		t.Fatalf("first read = %q, %v", first, err)
	}
	second, err := x.Eval(ctx)
	if err != nil || second != "" {
		t.Fatalf("second read = %q, %v; want the body consumed as APIM does", second, err)
	}
}

func TestAsJwtMemoSeesNewTokens(t *testing.T) {
	x := mustCompile(t, `@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject)`)
	for _, sub := range []string{"a", "b", "a"} {
		ctx := testContext(t)
		ctx.Request.Header.Set("Authorization", "Bearer "+signedToken(t, map[string]any{"sub": sub}))
		got, err := x.Eval(ctx)
		if err != nil || got != sub {
			t.Fatalf("subject = %v, %v; want %s", got, err, sub)
		}
	}
}

func TestConstantFolding(t *testing.T) {
	x, err := compileSource(`@("a" + "b" + (1 + 2))`, pos())
	if err != nil {
		t.Fatal(err)
	}
	if !x.IsConstant() {
		t.Fatal("a constant expression was not folded at load")
	}
	v, _ := x.Eval(nil)
	if v != "ab3" {
		t.Fatalf("folded value %v", v)
	}
}

func TestDecodeToken(t *testing.T) {
	raw := signedToken(t, testClaims)
	tok, err := decodeToken(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := &jwt.Token{Subject: "user-42", Issuer: "https://login.example/tenant/v2.0", ID: "id-1", Algorithm: "ES256", Type: "JWT"}
	if tok.Subject != want.Subject || tok.Issuer != want.Issuer || tok.ID != want.ID || tok.Algorithm != want.Algorithm || tok.Type != want.Type {
		t.Errorf("decoded %+v", tok)
	}
	if got := tok.ExpiresAt.Unix(); got != 1900000000 {
		t.Errorf("exp %d", got)
	}
	for _, bad := range []string{"", "a.b", "a.b.c", "e30.e30", "!!.e30.x", "e30.W10.x", strings.Repeat("a", maxTokenLen+1)} {
		if _, err := decodeToken(bad); err == nil {
			t.Errorf("decodeToken(%q) accepted garbage", bad)
		}
	}
}

func TestClientCertificate(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0xABCDEF),
		Subject:      pkix.Name{CommonName: "client-app"},
		NotBefore:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(der)
	ctx := testContext(t)
	ctx.Request.Certificate = der
	tests := []struct{ src, want string }{
		{`@(context.Request.Certificate.Thumbprint)`, strings.ToUpper(hex.EncodeToString(sum[:]))},
		{`@(context.Request.Certificate.Subject)`, "CN=client-app"},
		{`@(context.Request.Certificate.SerialNumber)`, "ABCDEF"},
		{`@(context.Request.Certificate.NotAfter.Year)`, "2027"},
		{`@(context.Request.Certificate.VerifyNoRevocation())`, "False"},
	}
	for _, tt := range tests {
		got, err := mustCompile(t, tt.src).Eval(ctx)
		if err != nil || policy.ToString(got) != tt.want {
			t.Errorf("%s = %v, %v; want %s", tt.src, got, err, tt.want)
		}
	}
	ctx.Request.Certificate = nil
	got, err := mustCompile(t, `@(context.Request.Certificate == null)`).Eval(ctx)
	if err != nil || got != true {
		t.Errorf("no certificate: %v, %v", got, err)
	}
}

// One compiled expression serves every request at once.
func TestConcurrentEvaluation(t *testing.T) {
	x := mustCompile(t, `@{ var j = context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt(); var n = 0; foreach (var r in j.Claims["roles"]) { n++; } return j.Subject + n; }`)
	subjects := []string{"a", "b", "c", "d"}
	var ctxs []*policy.Context
	for _, s := range subjects {
		ctx := testContext(t)
		ctx.Request.Header.Set("Authorization", "Bearer "+signedToken(t, map[string]any{"sub": s, "roles": []string{"x", "y"}}))
		ctxs = append(ctxs, ctx)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				k := (g + i) % len(ctxs)
				v, err := x.Eval(ctxs[k])
				if err != nil || v != subjects[k]+"2" {
					errs <- fmt.Errorf("request %d: %v, %v", k, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// The policy compiler hands attribute values to Compile and converts results with
// policy.ToString; this is the path every policy takes.
func TestThroughPolicyCompiler(t *testing.T) {
	c := &policy.Compiler{Expressions: Compile}
	tests := []struct {
		name, attr, want string
		isExpr           bool
	}{
		{"constant text", "plain value", "plain value", false},
		{"expression", `@(context.Request.Method + "-" + (1 + 1))`, "POST-2", true},
		{"block with spaces around", "  @{ return ((Jwt)context.Variables[\"jwt\"]).Subject; }  ", "user-42", true},
		{"bool prints like .NET", `@(context.Variables.ContainsKey("jwt"))`, "True", true},
	}
	ctx := testContext(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := c.Value(policy.Attr{Name: "value", Value: tt.attr, Pos: pos()})
			if err != nil {
				t.Fatal(err)
			}
			if v.IsExpr() != tt.isExpr {
				t.Fatalf("IsExpr = %v", v.IsExpr())
			}
			got, err := v.String(ctx)
			if err != nil || got != tt.want {
				t.Errorf("String = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	_, err := c.Value(policy.Attr{Name: "value", Value: "@(context.Nope)", Pos: pos()})
	var pe *policy.Error
	if !errors.As(err, &pe) || pe.Pos.Line != 10 || !strings.Contains(pe.Msg, "IProxyRequestContext.Nope") {
		t.Errorf("load error = %v", err)
	}
}
