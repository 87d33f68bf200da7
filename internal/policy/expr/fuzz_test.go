package expr

import (
	"strings"
	"testing"

	"portcullis/internal/policy"
)

// noPanic fails when an evaluation error came from a recovered panic: run-time failures
// must be exceptions, never crashes.
func noPanic(t *testing.T, src string, err error) {
	if err != nil && strings.Contains(err.Error(), "internal error") {
		t.Fatalf("%q panicked: %v", src, err)
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject)`,
		`@{ var x = 1; foreach (var c in "a,b".Split(',')) { x++; } return x; }`,
		`@($"{context.Request.Method}:{(1 > 2 ? $"a{1}" : "b")}")`,
		`@(new JObject(new JProperty("a", new JArray(1, "x"))).ToString())`,
		`@{ switch (1) { case 1: return "one"; default: return "x"; } }`,
		`@{ try { return int.Parse("x"); } catch (Exception e) { return e.Message; } }`,
		`@(new[] {1,2,3}.Where(x => x > 1).Select(x => x * 2).Sum())`,
		`@(Regex.Match("abc", "(?<n>b)").Groups["n"].Value)`,
		`@{ int F(int n) { return n <= 1 ? 1 : n * F(n - 1); } short G(short s) => (short)(s << 1); return F(5) + G((short)3); }`,
		`@{ var d = new XmlDocument(); d.LoadXml("<a x=\"1\"><b>t</b></a>"); return d.SelectSingleNode("//b").InnerText + d.DocumentElement.Attributes["x"]?.Value; }`,
	} {
		f.Add(s)
	}
	// The public corpus, when present beside the repository, seeds real-world shapes.
	for _, x := range corpusExpressions(f) {
		f.Add(namedValue.ReplaceAllString(x.src, "1"))
	}
	ctx := testContext(f)
	f.Fuzz(func(t *testing.T, src string) {
		x, err := Compile(src, policy.Pos{File: "f.xml", Line: 1, Col: 1})
		if err != nil {
			if _, ok := err.(*policy.Error); !ok {
				t.Fatalf("Compile(%q) returned %T, want *policy.Error", src, err)
			}
			return
		}
		_, err = x.Eval(ctx)
		noPanic(t, src, err)
	})
}

// FuzzEval runs the corpus's common expressions over request data from the fuzzer.
func FuzzEval(f *testing.F) {
	f.Add("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", `{"a":[1,{"b":"c"}]}`, "a=1; b=2")
	f.Add("Basic dXNlcjpwYXNz", `[1,2,3]`, "")
	f.Add("", "not json", ";;;")
	exprs := []string{
		`@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject)`,
		`@(context.Request.Headers.GetValueOrDefault("Authorization")?.Split(' ')?[1].AsJwt()?.Claims["roles"].FirstOrDefault())`,
		`@(context.Request.Headers.GetValueOrDefault("Authorization","").AsBasic()?.UserId)`,
		`@{ string h = context.Request.Headers.GetValueOrDefault("Authorization", ""); Jwt j; return h.TryParseJwt(out j) ? j.Claims.GetValueOrDefault("appid", "none") : "bad"; }`,
		`@(context.Request.Body.As<JObject>(preserveContent: true)["a"][1]["b"].ToString())`,
		`@(JArray.Parse(context.Request.Body.As<string>(true)).Count)`,
		`@(JsonConvert.SerializeObject(JToken.Parse(context.Request.Body.As<string>(true))))`,
		`@{ foreach (var c in context.Request.Headers.GetValueOrDefault("Cookie", "").Split(';')) { var t = c.Trim(); if (t.StartsWith("b=")) { return t.Substring(2); } } return "none"; }`,
		`@(Convert.FromBase64String(context.Request.Headers.GetValueOrDefault("Cookie", "")).Length)`,
		`@(int.Parse(context.Request.Headers.GetValueOrDefault("Cookie", "0")) + 1)`,
		`@(Regex.IsMatch(context.Request.Headers.GetValueOrDefault("Cookie", ""), "^[a-z]+=\\d+"))`,
		`@(DateTime.Parse(context.Request.Headers.GetValueOrDefault("Cookie", "")).ToString("o"))`,
		`@(Uri.EscapeDataString(context.Request.Headers.GetValueOrDefault("Cookie", "")))`,
		`@(string.Format(context.Request.Headers.GetValueOrDefault("Cookie", ""), 1, "x"))`,
		`@((string)context.Request.Body.As<JObject>(true).SelectToken(context.Request.Headers.GetValueOrDefault("Cookie", "")))`,
		`@(XDocument.Parse(context.Request.Body.As<string>(true)).Root.Descendants().Count())`,
		`@(((DateTime)context.Variables["now"]).ToString(context.Request.Headers.GetValueOrDefault("Cookie", "")))`,
		`@(12.5.ToString(context.Request.Headers.GetValueOrDefault("Cookie", "")))`,
		`@(TimeSpan.Parse(context.Request.Headers.GetValueOrDefault("Cookie", "")).TotalSeconds)`,
		`@(Guid.Parse(context.Request.Headers.GetValueOrDefault("Cookie", "")).ToString("B"))`,
		`@(context.Request.Body.AsFormUrlEncodedContent(true).Count)`,
		`@(Regex.Replace(context.Request.Body.As<string>(true), context.Request.Headers.GetValueOrDefault("Cookie", "x"), "$1"))`,
		`@(new Uri(context.Request.Headers.GetValueOrDefault("Cookie", "")).PathAndQuery)`,
		`@(Encoding.UTF8.GetString(Convert.FromBase64String(context.Request.Headers.GetValueOrDefault("Cookie", ""))).Length)`,
	}
	var compiled []policy.Expression
	for _, s := range exprs {
		compiled = append(compiled, mustCompile(f, s))
	}
	ctx := testContext(f)
	f.Fuzz(func(t *testing.T, auth, body, cookie string) {
		ctx.Request.Header.Set("Authorization", auth)
		ctx.Request.Header.Set("Cookie", cookie)
		for i, x := range compiled {
			ctx.Request.Body.Set([]byte(body))
			_, err := x.Eval(ctx)
			noPanic(t, exprs[i], err)
		}
	})
}
