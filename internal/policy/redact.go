package policy

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// minRedactedLength: named values shorter than this are not replaced in error messages. A
// secret is longer, and replacing a short value such as "60" would garble unrelated text.
const minRedactedLength = 8

// redactNamedValues replaces, in each error's message, the value of every named value with
// its {{name}} reference. Compile errors quote the attribute or text they refuse ("expected a
// whole number, found …"), and after substitution that text may be a named value holding a
// secret, which must not reach the console or a log.
func redactNamedValues(errs []*Error, values map[string]string) []*Error {
	if len(errs) == 0 || len(values) == 0 {
		return errs
	}
	// Longest value first, so that a value containing another is replaced whole.
	names := slices.SortedFunc(maps.Keys(values), func(a, b string) int {
		return cmp.Or(cmp.Compare(len(values[b]), len(values[a])), cmp.Compare(a, b))
	})
	for _, e := range errs {
		for _, name := range names {
			v := values[name]
			if len(v) < minRedactedLength {
				continue
			}
			ref := "{{" + name + "}}"
			e.Msg = strings.ReplaceAll(e.Msg, v, ref)
			// The same value as %q prints it, escapes and all.
			if q := strconv.Quote(v); q[1:len(q)-1] != v {
				e.Msg = strings.ReplaceAll(e.Msg, q[1:len(q)-1], ref)
			}
		}
	}
	return errs
}
