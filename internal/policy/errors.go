package policy

import (
	"cmp"
	"errors"
	"slices"
	"strings"
)

// ErrorList is every load error found in one go, so that `portcullis check` can print them
// all. Its message is one file:line:col: message line per error.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is and errors.As look at each error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// Errors returns the load errors in err, sorted by file, line and column, each once: the
// errors of an ErrorList, a lone *Error, or nil when err holds neither.
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case ErrorList:
			for _, x := range e {
				walk(x)
			}
		case *Error:
			out = append(out, e)
		default:
			if m, ok := err.(interface{ Unwrap() []error }); ok {
				for _, x := range m.Unwrap() {
					walk(x)
				}
				return
			}
			var pe *Error
			if errors.As(err, &pe) {
				out = append(out, pe)
			}
		}
	}
	walk(err)
	slices.SortStableFunc(out, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
	return slices.CompactFunc(out, func(a, b *Error) bool { return a.Pos == b.Pos && a.Msg == b.Msg })
}

// errorsOrNil turns collected errors into one error value.
func errorsOrNil(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	return ErrorList(Errors(ErrorList(errs)))
}
