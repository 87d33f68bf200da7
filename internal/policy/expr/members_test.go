package expr

import (
	"testing"

	"portcullis/internal/policy"
)

// TestMembers exercises the .NET members one by one, with results as .NET prints them.
func TestMembers(t *testing.T) {
	tests := []struct{ name, src, want string }{
		// string
		{"pad", `@("7".PadLeft(3, '0') + "|" + "a".PadRight(3) + "|")`, "007|a  |"},
		{"insert remove", `@("abcdef".Insert(2, "XY").Remove(0, 1))`, "bXYcdef"},
		{"index of any", `@("hello, world".IndexOfAny(new[] {',', ' '}))`, "5"},
		{"index of from", `@("a-b-c".IndexOf("-", 2))`, "3"},
		{"index of ignore case", `@("Hello".IndexOf("LL", StringComparison.OrdinalIgnoreCase))`, "2"},
		{"replace ignore case", `@("Hello".Replace("L", "x", StringComparison.OrdinalIgnoreCase))`, "Hexxo"},
		{"replace char", `@("a-b".Replace('-', '_'))`, "a_b"},
		{"compare", `@(string.Compare("a", "A", true) + "|" + string.Compare("a", "B", true) + "|" + string.CompareOrdinal("a", "b") + "|" + "b".CompareTo("a"))`, "0|-1|-1|1"},
		{"string equals static", `@(string.Equals("A", "a", StringComparison.OrdinalIgnoreCase) && !string.Equals("A", "a"))`, "True"},
		{"char array", `@(new string("abc".ToCharArray().Reverse().ToArray()))`, "cba"},
		{"split whitespace", `@("a  b\tc".Split().Length + "/" + "a  b".Split(new char[0], StringSplitOptions.RemoveEmptyEntries).Length)`, "4/2"},
		{"split count", `@(string.Join("|", "a=b=c".Split(new[] {'='}, 2)))`, "a|b=c"},
		{"split trim entries", `@(string.Join("|", " a , b ".Split(',', StringSplitOptions.TrimEntries)))`, "a|b"},
		{"string concat enumerable", `@(string.Concat(new[] {"a", "b"}))`, "ab"},
		{"string empty", `@(string.Empty.Length + String.Empty)`, "0"},
		{"normalize", `@("x".Normalize())`, "x"},
		{"contains char", `@("abc".Contains('b'))`, "True"},

		// numbers and chars
		{"int max", `@(int.MaxValue + "|" + long.MinValue)`, "2147483647|-9223372036854775808"},
		{"int overflow wraps", `@{ int x = int.MaxValue; x = x + 1; return x; }`, "-2147483648"},
		{"double parse", `@(double.Parse("1.5") * 2)`, "3"},
		{"bool parse", `@(bool.Parse("true") && !bool.Parse("False"))`, "True"},
		{"long try parse", `@(long.TryParse("x", out var n) ? "yes" : "no:" + n)`, "no:0"},
		{"char tests", `@(char.IsDigit('5') && char.IsLetter("a1", 0) && char.IsWhiteSpace(' ') && char.IsUpper('A') && char.ToUpper('b') == 'B')`, "True"},
		{"number formats", `@(12345.678.ToString("N2") + "|" + 42.ToString("D5") + "|" + 255.ToString("X2") + "|" + 0.5.ToString("P0") + "|" + 3.14159.ToString("F2") + "|" + 7.5.ToString("0.00"))`, "12,345.68|00042|FF|50 %|3.14|7.50"},
		{"convert numbers", `@(Convert.ToInt32("42") + Convert.ToInt32(2.5) + Convert.ToInt64(3L) + Convert.ToDouble("0.5") + "|" + Convert.ToBoolean("true") + "|" + Convert.ToInt32("ff", 16))`, "47.5|True|255"},
		{"convert to string", `@(Convert.ToString(5) + Convert.ToString(255, 2))`, "511111111"},
		{"convert hex", `@(Convert.ToHexString(new byte[] {1, 171}) + "|" + Convert.FromHexString("0aff").Length)`, "01AB|2"},
		{"base64 slice", `@(Convert.ToBase64String(new byte[] {1, 2, 3, 4}, 1, 2))`, "AgM="},
		{"math functions", `@(Math.Sqrt(16) + Math.Pow(2, 3) + Math.Floor(1.7) + Math.Ceiling(1.2) + Math.Truncate(-1.7) + Math.Sign(-3) + Math.Log10(100) + Math.Log(8, 2))`, "18"},
		{"math round away", `@(Math.Round(2.5) + "|" + Math.Round(2.5, MidpointRounding.AwayFromZero) + "|" + Math.Round(-1.25, 1))`, "2|3|-1.2"},
		{"math constants", `@(Math.PI > 3.14 && Math.E < 2.72 && Math.Abs(-2.5) == 2.5)`, "True"},
		{"nullable value", `@{ int? n = 5; return n.HasValue ? n.Value + 1 : 0; }`, "6"},
		{"nullable null", `@{ DateTime? d = null; return d.HasValue; }`, "False"},

		// dates and times
		{"date parts", `@{ var d = new DateTime(2024, 2, 29, 13, 5, 9); return d.Year + "-" + d.Month + "-" + d.Day + " " + d.Hour + ":" + d.Minute + ":" + d.Second + " " + d.DayOfWeek + " " + d.DayOfYear; }`, "2024-2-29 13:5:9 Thursday 60"},
		{"date arithmetic", `@{ var d = new DateTime(2024, 1, 31); return d.AddMonths(1).ToString("yyyy-MM-dd") + "|" + d.AddDays(-1).AddHours(1).ToString("s") + "|" + d.AddYears(1).Year; }`, "2024-03-02|2024-01-30T01:00:00|2025"},
		{"date difference", `@((new DateTime(2024, 1, 2) - new DateTime(2024, 1, 1)).TotalHours + "|" + new DateTime(2024, 1, 2).Subtract(TimeSpan.FromHours(12)).ToString("HH"))`, "24|12"},
		{"date compare", `@(new DateTime(2024, 1, 2) > new DateTime(2024, 1, 1) && DateTime.MinValue < DateTime.MaxValue)`, "True"},
		{"date unix", `@(DateTimeOffset.FromUnixTimeSeconds(1700000000).UtcDateTime.ToString("o") + "|" + new DateTime(2024, 1, 1).ToUnixTimeSeconds())`, "2023-11-14T22:13:20.0000000Z|1704067200"},
		{"date try parse", `@(DateTime.TryParse("nope", out var d) + "|" + DateTime.TryParse("2024-05-06", out var e) + "|" + e.Day)`, "False|True|6"},
		{"date date", `@(new DateTime(2024, 1, 2, 3, 4, 5).Date.ToString("s") + "|" + new DateTime(2024, 1, 2, 3, 4, 5).TimeOfDay)`, "2024-01-02T00:00:00|03:04:05"},
		{"timespan parts", `@{ var t = new TimeSpan(1, 2, 3, 4); return t.Days + "/" + t.Hours + "/" + t.Minutes + "/" + t.Seconds + "/" + t + "/" + t.TotalMinutes; }`, "1/2/3/4/1.02:03:04/1563.0666666666666"},
		{"timespan parse", `@(TimeSpan.Parse("01:30:00").TotalMinutes + TimeSpan.FromSeconds(30).TotalSeconds + TimeSpan.Zero.Ticks)`, "120"},
		{"timespan compare", `@(TimeSpan.FromMinutes(1) > TimeSpan.FromSeconds(59) && TimeSpan.FromMinutes(1).Add(TimeSpan.FromMinutes(1)).TotalMinutes == 2)`, "True"},

		// guid, random, encoding, crypto
		{"guid parse", `@(Guid.Parse("{0B4A3C4E-1111-4222-8333-444455556666}").ToString("N") + "|" + Guid.Empty)`, "0b4a3c4e111142228333444455556666|00000000-0000-0000-0000-000000000000"},
		{"guid bytes", `@(BitConverter.ToString(new Guid("00112233-4455-6677-8899-aabbccddeeff").ToByteArray()))`, "33-22-11-00-55-44-77-66-88-99-AA-BB-CC-DD-EE-FF"},
		{"guid from bytes", `@(new Guid(new Guid("00112233-4455-6677-8899-aabbccddeeff").ToByteArray()).ToString())`, "00112233-4455-6677-8899-aabbccddeeff"},
		{"date time offset", `@(new DateTimeOffset(new DateTime(2024, 1, 1)).ToUnixTimeSeconds())`, "1704067200"},
		{"guid try parse", `@(Guid.TryParse("x", out var g))`, "False"},
		{"random seeded", `@(new Random(1).NextDouble() < 1 && new Random().Next(5) < 5)`, "True"},
		{"encodings", `@(Encoding.ASCII.GetBytes("é").Length + "|" + Encoding.Unicode.GetBytes("ab").Length + "|" + Encoding.Unicode.GetString(Encoding.Unicode.GetBytes("hé")) + "|" + Encoding.UTF8.GetString(Encoding.UTF8.GetBytes("abc"), 1, 2))`, "1|4|hé|bc"},
		{"sha1 md5", `@(BitConverter.ToString(SHA1.Create().ComputeHash(Encoding.UTF8.GetBytes("abc"))).Substring(0, 5) + "|" + BitConverter.ToString(MD5.Create().ComputeHash(new byte[0])).Substring(0, 5))`, "A9-99|D4-1D"},
		{"sha512 hash data", `@(SHA512.HashData(new byte[0]).Length + HMACSHA256.HashData(new byte[] {1}, new byte[] {2}).Length)`, "96"},
		{"hmac key property", `@{ var h = new HMACSHA256(); h.Key = Encoding.UTF8.GetBytes("key"); return Convert.ToBase64String(h.ComputeHash(Encoding.UTF8.GetBytes("The quick brown fox jumps over the lazy dog"))); }`, "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="},
		{"random bytes", `@(RandomNumberGenerator.GetBytes(16).Length)`, "16"},
		{"bit converter bytes", `@(BitConverter.GetBytes(1).Length + BitConverter.GetBytes(1L).Length)`, "12"},

		// uri and web utility
		{"uri parts", `@{ var u = new Uri("https://user@h.example:8443/a/b?x=1#frag"); return u.Scheme + "|" + u.Host + "|" + u.Port + "|" + u.AbsolutePath + "|" + u.Query + "|" + u.Fragment + "|" + u.PathAndQuery + "|" + u.Authority + "|" + u.UserInfo + "|" + u.Segments.Length; }`, "https|h.example|8443|/a/b|?x=1|#frag|/a/b?x=1|h.example:8443|user|3"},
		{"uri relative", `@(new Uri(new Uri("https://h.example/a/b"), "c?d=1").AbsoluteUri)`, "https://h.example/a/c?d=1"},
		{"uri well formed", `@(Uri.IsWellFormedUriString("https://x.example/", UriKind.Absolute) && !Uri.IsWellFormedUriString("not a uri", UriKind.Absolute))`, "True"},
		{"uri try create", `@(Uri.TryCreate("https://x.example", UriKind.Absolute, out var u) ? u.Host : "no")`, "x.example"},
		{"html encode", `@(System.Net.WebUtility.HtmlEncode("<a&b>") + System.Net.WebUtility.HtmlDecode("&lt;x&gt;"))`, "&lt;a&amp;b&gt;<x>"},
		{"url ToUri", `@(context.Request.OriginalUrl.ToUri().Host)`, "gw.contoso.example"},

		// regex
		{"regex groups by index", `@(Regex.Match("k=v", "(\\w)=(\\w)").Groups[2].Value + Regex.Match("k=v", "(\\w)=(\\w)").Groups.Count)`, "v3"},
		{"regex no match", `@(Regex.Match("abc", "\\d").Success + "|" + Regex.Match("abc", "\\d").Value + "|")`, "False||"},
		{"regex matches", `@(Regex.Matches("a1b22c333", "\\d+").Count + "|" + Regex.Matches("a1b22c333", "\\d+")[2].Value)`, "3|333"},
		{"regex next match", `@(Regex.Match("a1b2", "\\d").NextMatch().Value)`, "2"},
		{"regex instance", `@(new Regex("^a", RegexOptions.IgnoreCase).IsMatch("ABC") && new Regex("b").Replace("abc", "x") == "axc")`, "True"},
		{"regex split escape", `@(string.Join("|", Regex.Split("a1b2c", "\\d")) + "|" + Regex.Escape("a.b"))`, "a|b|c|a\\.b"},
		{"regex replace groups", `@(Regex.Replace("john smith", "(?<first>\\w+) (?<last>\\w+)", "${last}, $1"))`, "smith, john"},
		{"regex replace evaluator", `@(Regex.Replace("a1b2", "\\d", m => (int.Parse(m.Value) * 2).ToString()))`, "a2b4"},

		// collections and LINQ
		{"list ops", `@{ var l = new List<int> { 3, 1, 2 }; l.Sort(); l.Insert(0, 9); l.RemoveAt(1); l.Remove(2); l.AddRange(new[] {7, 8}); return string.Join(",", l) + "|" + l[1] + "|" + l.Contains(7); }`, "9,3,7,8|3|True"},
		{"dictionary ops", `@{ var d = new Dictionary<string, int>(); d.Add("a", 1); d["b"] = 2; d.Remove("a"); return d.Count + "|" + d.ContainsValue(2) + "|" + d.TryGetValue("b", out var v) + v + "|" + d.GetValueOrDefault("z", 9) + "|" + string.Join(",", d.Keys) + string.Join(",", d.Values); }`, "1|True|True2|9|b2"},
		{"dictionary foreach", `@{ var d = new Dictionary<string, string> { ["x"] = "1", ["y"] = "2" }; var s = ""; foreach (var kv in d) { s += kv.Key + "=" + kv.Value + ";"; } return s; }`, "x=1;y=2;"},
		{"linq first last single", `@(new[] {1, 2, 3}.First(x => x > 1) + new[] {1, 2, 3}.Last() + new[] {5}.Single() + "|" + new string[0].FirstOrDefault() + "|" + new[] {"a"}.LastOrDefault(x => x == "b") + "|" + new[] {"a"}.SingleOrDefault())`, "10|||a"},
		{"value-type defaults", `@(new int[0].FirstOrDefault() + new[] {1, 2}.Where(x => x > 5).FirstOrDefault() + new[] {1, 2}.LastOrDefault(x => x > 5) + new bool[0].SingleOrDefault().ToString() + new int[] {3}.ElementAtOrDefault(4))`, "0False0"},
		{"linq min max avg", `@(new[] {3, 1, 2}.Min() + "|" + new[] {3, 1, 2}.Max(x => x * 10) + "|" + new[] {1, 2}.Average())`, "1|30|1.5"},
		{"linq distinct skip take", `@(string.Join(",", new[] {1, 1, 2, 3, 3}.Distinct().Skip(1).Take(1)))`, "2"},
		{"linq sets", `@(string.Join(",", new[] {1, 2}.Union(new[] {2, 3})) + "|" + string.Join(",", new[] {1, 2}.Intersect(new[] {2, 3})) + "|" + string.Join(",", new[] {1, 2}.Except(new[] {2})))`, "1,2,3|2|1"},
		{"linq order desc", `@(string.Join(",", new[] {"b", "c", "a"}.OrderByDescending(s => s)))`, "c,b,a"},
		{"linq select many", `@(new[] {"a,b", "c"}.SelectMany(s => s.Split(',')).Count())`, "3"},
		{"linq to dictionary", `@(new[] {"a", "bb"}.ToDictionary(s => s, s => s.Length)["bb"])`, "2"},
		{"linq element at", `@(new[] {"a", "b"}.ElementAt(1) + new[] {"a"}.ElementAtOrDefault(5))`, "b"},
		{"linq aggregate", `@(new[] {1, 2, 3}.Aggregate((a, b) => a * b) + new[] {1, 2}.Aggregate(10, (a, b) => a + b))`, "19"},
		{"linq sequence equal", `@(new[] {1, 2}.SequenceEqual(new[] {1, 2}) && !new[] {1}.SequenceEqual(new[] {2}))`, "True"},
		{"linq concat reverse", `@(string.Join("", new[] {"a"}.Concat(new[] {"b", "c"}).Reverse()))`, "cba"},
		{"linq of type cast", `@(new object[] {1, "a", 2}.OfType<int>().Sum() + new object[] {"x"}.Cast<string>().First())`, "3x"},
		{"linq default if empty", `@(new int[0].DefaultIfEmpty(7).First())`, "7"},
		{"select with index", `@(string.Join(",", new[] {"a", "b"}.Select((s, i) => s + i)))`, "a0,b1"},
		{"array reverse sort", `@{ var a = new[] {"b", "c", "a"}; Array.Sort(a); var b = new[] {1, 2}; Array.Reverse(b); return string.Join("", a) + b[0] + Array.IndexOf(a, "c"); }`, "abc22"},
		{"header enumeration", `@(string.Join(",", context.Request.Headers.Where(h => h.Key.StartsWith("X-", StringComparison.OrdinalIgnoreCase)).Select(h => h.Key + "=" + string.Join("+", h.Value))))`, "X-Multi=one+two"},
		{"header count keys", `@(context.Request.Headers.Count + "|" + context.Request.Url.Query.Keys.Length + "|" + context.Request.Url.Query.Count)`, "4|2|2"},
		{"query try get", `@(context.Request.Url.Query.TryGetValue("a", out var vs) ? vs.Length : -1)`, "2"},
		{"variables enumeration", `@(context.Variables.Keys.Contains("jwt") && context.Variables.Count > 3 && context.Variables.TryGetValue("name", out var n) && (string)n == "alice")`, "True"},
		{"params enumeration", `@(context.Request.MatchedParameters.Count + "|" + context.Request.MatchedParameters.ContainsKey("id") + "|" + context.Request.MatchedParameters.TryGetValue("id", out var id) + id)`, "1|True|True7"},
		{"claims enumeration", `@(((Jwt)context.Variables["jwt"]).Claims.Keys.Contains("sub") && ((Jwt)context.Variables["jwt"]).Claims.TryGetValue("roles", out var r) && r.Length == 2)`, "True"},
		{"string builder", `@{ var sb = new StringBuilder("a"); sb.Append(1).Append(true).AppendFormat("{0}", "x").AppendLine("z"); return sb.ToString().Trim() + sb.Length; }`, "a1Truexz10"},

		// JSON
		{"jobject properties", `@(string.Join(",", JObject.Parse("{\"a\":1,\"b\":2}").Properties().Select(p => p.Name + "=" + p.Value)))`, "a=1,b=2"},
		{"jobject add remove", `@{ var o = new JObject(); o.Add("a", 1); o.Add(new JProperty("b", "x")); o["c"] = true; o.Remove("a"); return o.ToString(Formatting.None) + o.Count + o.ContainsKey("b"); }`, `{"b":"x","c":true}2True`},
		{"jobject property lookup", `@(JObject.Parse("{\"Name\":1}").Property("name", StringComparison.OrdinalIgnoreCase).Value + "|" + (JObject.Parse("{}").Property("x") == null))`, "1|True"},
		{"jobject try get value", `@(JObject.Parse("{\"a\":[1,2]}").TryGetValue("a", out var t) ? ((JArray)t).Count : 0)`, "2"},
		{"jobject merge", `@{ var a = JObject.Parse("{\"x\":1}"); a.Merge(JObject.Parse("{\"y\":2}")); return a.ToString(Formatting.None); }`, `{"x":1,"y":2}`},
		{"jobject first last", `@(((JProperty)JObject.Parse("{\"a\":1,\"b\":2}").First).Name + ((JProperty)JObject.Parse("{\"a\":1,\"b\":2}").Last).Name)`, "ab"},
		{"jobject foreach", `@{ var s = ""; foreach (var p in JObject.Parse("{\"a\":1,\"b\":\"x\"}")) { s += p.Key + p.Value; } return s; }`, "a1bx"},
		{"jobject values", `@(string.Join(",", JObject.Parse("{\"a\":1,\"b\":2}").Values<int>()))`, "1,2"},
		{"jarray ops", `@{ var a = new JArray(); a.Add(1); a.Add("x"); a.Insert(0, true); a.RemoveAt(1); a[0] = false; return a.ToString(Formatting.None) + a.Count; }`, `[false,"x"]2`},
		{"jarray linq", `@(JArray.Parse("[{\"n\":1},{\"n\":5}]").Where(x => (int)x["n"] > 2).Count() + JArray.Parse("[1,2,3]").Select(x => (int)x).Sum())`, "7"},
		{"jtoken casts", `@((string)JToken.Parse("\"s\"") + (int)JToken.Parse("5") + (bool)JToken.Parse("true") + (double)JToken.Parse("1.5") + (long)JToken.Parse("7"))`, "s5True1.57"},
		{"jtoken to object", `@(JToken.Parse("[\"a\",\"b\"]").ToObject<string[]>().Length + JToken.Parse("{\"a\":1}").ToObject<Dictionary<string, object>>().Count + JToken.Parse("[1]").ToObject<List<int>>().Count)`, "4"},
		{"jtoken has values deep clone", `@(JObject.Parse("{\"a\":[]}")["a"].HasValues + "|" + JObject.Parse("{\"a\":1}").DeepClone().ToString(Formatting.None))`, `False|{"a":1}`},
		{"jtoken children", `@(JObject.Parse("{\"a\":1,\"b\":2}").Children().Count() + JArray.Parse("[1,2,3]").Children().Count())`, "5"},
		{"json select token paths", `@((string)JObject.Parse("{\"a b\":{\"c\":[\"x\",\"y\"]}}").SelectToken("$['a b'].c[1]"))`, "y"},
		{"json select missing", `@(JObject.Parse("{}").SelectToken("a.b") == null)`, "True"},
		{"json from object", `@(JObject.FromObject(new { a = 1 }).ToString(Formatting.None) + JArray.FromObject(new[] {"x"}).ToString(Formatting.None))`, `{"a":1}["x"]`},
		{"json escapes", `@(JsonConvert.SerializeObject("a\"b\n<c>"))`, `"a\"b\n<c>"`},
		{"json numbers", `@(JsonConvert.SerializeObject(new { a = 1.0, b = 1e20, c = 0.1, d = -3L }))`, `{"a":1.0,"b":1E+20,"c":0.1,"d":-3}`},
		{"json indented", `@(JsonConvert.SerializeObject(new { a = new[] {1} }, Formatting.Indented))`, "{\n  \"a\": [\n    1\n  ]\n}"},
		{"json deserialize untyped", `@(((JObject)JsonConvert.DeserializeObject("{\"a\":2}"))["a"])`, "2"},
		{"json unicode escape", `@((string)JObject.Parse("{\"e\":\"\\u00e9\\ud83d\\ude00\"}")["e"])`, "é😀"},
		{"jproperty set value", `@{ var p = new JProperty("a", 1); p.Value = "x"; return new JObject(p).ToString(Formatting.None); }`, `{"a":"x"}`},

		// statements
		{"do while", `@{ var i = 0; do { i++; } while (i < 3); return i; }`, "3"},
		{"nested loops break", `@{ var n = 0; foreach (var a in new[] {1, 2, 3}) { foreach (var b in new[] {1, 2, 3}) { if (b == 2) break; n++; } } return n; }`, "3"},
		{"try finally", `@{ var s = "a"; try { s += "b"; } finally { s += "c"; } return s; }`, "abc"},
		{"catch when", `@{ try { throw new Exception("x"); } catch (Exception e) when (e.Message == "y") { return "y"; } catch (Exception) { return "other"; } }`, "other"},
		{"increment forms", `@{ var i = 1; var a = i++; var b = ++i; i--; --i; return a + "" + b + i; }`, "131"},
		{"coalesce assign", `@{ string s = null; s ??= "d"; s ??= "e"; return s; }`, "d"},
		{"default values", `@(default(int) + default(string)?.Length ?? 0)`, "0"},
		{"is not null", `@(context.Request is not null && context.Product is null)`, "True"},
		{"using expression", `@{ using (SHA256.Create()) { return 1; } }`, "1"},
		{"checked block", `@{ int x = 0; unchecked { x = 5; } return x; }`, "5"},
		{"const", `@{ const int n = 3; return n * 2; }`, "6"},
		{"array initializer decl", `@{ string[] a = { "x", "y" }; return a[1]; }`, "y"},
		{"multi declaration", `@{ int a = 1, b = 2; return a + b; }`, "3"},
		{"block lambda void", `@{ var n = 0; new[] {1, 2}.ToList().ForEach(x => { n += x; }); return n; }`, "3"},
	}
	ctx := testContext(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := Compile(tt.src, pos())
			if err != nil {
				t.Fatalf("Compile(%s): %v", tt.src, err)
			}
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
