package jwt

import (
	"strings"
	"testing"
)

// indexFold finds the tenant placeholder in any letter case wherever it stands, as a plain
// scan at every offset would.
func TestIndexFold(t *testing.T) {
	naive := func(s, sub string) int {
		for i := 0; i+len(sub) <= len(s); i++ {
			if strings.EqualFold(s[i:i+len(sub)], sub) {
				return i
			}
		}
		return -1
	}
	cases := []struct {
		name, s, sub string
		want         int
	}{
		{"v2 template", "https://login.microsoftonline.com/{tenantid}/v2.0", tenantPlaceholder, 34},
		{"upper case", "https://sts.windows.net/{TenantID}/", tenantPlaceholder, 24},
		{"concrete issuer", "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", tenantPlaceholder, -1},
		{"brace without placeholder first", "https://x/{tenant}/{tenantid}", tenantPlaceholder, 19},
		{"at the start", "{tenantid}", tenantPlaceholder, 0},
		{"cut at the end", "https://x/{tenanti", tenantPlaceholder, -1},
		{"brace at the very end", "https://x/{", tenantPlaceholder, -1},
		{"empty", "", tenantPlaceholder, -1},
		{"letter first", "https://Example/", "example", 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := indexFold(c.s, c.sub)
			if got != c.want || got != naive(c.s, c.sub) {
				t.Errorf("indexFold(%q, %q) = %d, want %d (naive scan %d)", c.s, c.sub, got, c.want, naive(c.s, c.sub))
			}
		})
	}
}
