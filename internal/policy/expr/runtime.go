package expr

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"portcullis/internal/policy"
)

// Limits bound one evaluation. They are fixed: an expression that needs more is a bug or an
// attack, and the pipeline answers it with ExpressionValueEvaluationFailure.
const (
	maxSteps  = 1_000_000 // loop iterations, lambda calls and method calls
	maxAlloc  = 16 << 20  // bytes of strings, arrays and lists built by one evaluation
	maxString = 4 << 20   // length of any one string an expression builds
)

// ErrLimit is returned (wrapped) when an evaluation exceeds its step or allocation budget.
// try/catch in an expression cannot catch it.
var ErrLimit = errors.New("policy expression exceeded its evaluation budget")

// Exception is a .NET exception raised while evaluating an expression: what the pipeline
// reports as ExpressionValueEvaluationFailure. try/catch in an expression can catch it.
type Exception struct {
	Type    string // e.g. NullReferenceException
	Message string
}

func (e *Exception) Error() string { return e.Type + ": " + e.Message }

func throw(typ, format string, args ...any) error {
	return &Exception{Type: typ, Message: fmt.Sprintf(format, args...)}
}

func nullRef(what string) error {
	return throw("NullReferenceException", "%s is null", what)
}

func invalidCast(v any, to string) error {
	return throw("InvalidCastException", "cannot convert %s to %s", typeName(v), to)
}

// errShort ends a null-conditional chain (a?.b.c): the chain's value is null.
var errShort = errors.New("null-conditional short circuit")

// env is the state of one evaluation.
type env struct {
	ctx    *policy.Context
	locals []any
	steps  int
	alloc  int
	depth  int // nesting of local function calls
	ret    any
	expr   *Expression
}

func (e *env) step() error {
	e.steps++
	if e.steps > maxSteps {
		return fmt.Errorf("%w: more than %d steps", ErrLimit, maxSteps)
	}
	return nil
}

// charge accounts for n bytes allocated by the expression.
func (e *env) charge(n int) error {
	e.alloc += n
	if e.alloc > maxAlloc || n > maxString {
		return fmt.Errorf("%w: more than %d bytes allocated", ErrLimit, maxAlloc)
	}
	return nil
}

type evalFn func(e *env) (any, error)

// Char is a .NET char.
type Char rune

func (c Char) String() string { return string(rune(c)) }

// DateTime is a .NET DateTime; it prints like DateTime.ToString() in the invariant culture.
type DateTime struct {
	T time.Time
	// Local marks DateTime.Now and parsed values without a zone (DateTimeKind).
	Local bool
}

func (d DateTime) String() string { return formatDateTime(d, "G") }

// TimeSpan is a .NET TimeSpan.
type TimeSpan time.Duration

func (t TimeSpan) String() string { return formatTimeSpan(time.Duration(t)) }

func formatTimeSpan(d time.Duration) string {
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	if days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10))
		b.WriteByte('.')
	}
	h, m, s := d/time.Hour, (d%time.Hour)/time.Minute, (d%time.Minute)/time.Second
	fmt.Fprintf(&b, "%02d:%02d:%02d", h, m, s)
	if frac := d % time.Second; frac != 0 {
		fmt.Fprintf(&b, ".%07d", frac/100)
	}
	return b.String()
}

// Guid is a .NET Guid.
type Guid [16]byte

func (g Guid) String() string {
	const hx = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i, c := range g {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hx[c>>4], hx[c&15]
		j += 2
	}
	return string(b[:])
}

// toStr is .NET's ToString for every value an expression handles.
func toStr(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return formatDouble(x)
	case Char:
		return string(rune(x))
	case []byte:
		return "System.Byte[]"
	case []string:
		return "System.String[]"
	case []any:
		return "System.Object[]"
	case time.Time:
		return DateTime{T: x}.String()
	case time.Duration:
		return formatTimeSpan(x)
	case fmt.Stringer:
		return x.String()
	}
	return policy.ToString(v)
}

// formatDouble prints like .NET Core's double.ToString(): shortest round trip, E notation
// from 1E+15 up and below 1E-05.
func formatDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "∞"
	case math.IsInf(f, -1):
		return "-∞"
	}
	a := math.Abs(f)
	if a != 0 && (a >= 1e15 || a < 1e-5) {
		s := strconv.FormatFloat(f, 'E', -1, 64)
		// Go writes E+15, .NET E+15; Go writes E-06, .NET E-06
		return s
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "String"
	case bool:
		return "Boolean"
	case int:
		return "Int32"
	case int64:
		return "Int64"
	case float64:
		return "Double"
	case Char:
		return "Char"
	}
	if t := typeOfValue(v); t != nil {
		return t.name
	}
	return fmt.Sprintf("%T", v)
}

// ---- numbers

func isNumber(v any) bool {
	switch v.(type) {
	case int, int64, float64, Char:
		return true
	}
	return false
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case Char:
		return int64(x), true
	case *JValue:
		return toInt64(x.V)
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case Char:
		return float64(x), true
	case *JValue:
		return toFloat(x.V)
	}
	return 0, false
}

// numKind ranks the numeric type of a binary operation: 0 int, 1 long, 2 double.
func numKind(a, b any) int {
	k := 0
	for _, v := range []any{a, b} {
		switch v.(type) {
		case int64:
			k = max(k, 1)
		case float64:
			k = 2
		}
	}
	return k
}

func arith(op string, a, b any) (any, error) {
	if a == nil || b == nil {
		return nil, nil // lifted operators on null give null
	}
	if ja, ok := a.(*JValue); ok {
		a = ja.V
	}
	if jb, ok := b.(*JValue); ok {
		b = jb.V
	}
	if !isNumber(a) || !isNumber(b) {
		if dt, ok := a.(DateTime); ok {
			switch y := b.(type) {
			case TimeSpan:
				if op == "+" {
					return DateTime{T: dt.T.Add(time.Duration(y)), Local: dt.Local}, nil
				}
				if op == "-" {
					return DateTime{T: dt.T.Add(-time.Duration(y)), Local: dt.Local}, nil
				}
			case DateTime:
				if op == "-" {
					return TimeSpan(dt.T.Sub(y.T)), nil
				}
			}
		}
		if ta, ok := a.(TimeSpan); ok {
			if tb, ok := b.(TimeSpan); ok {
				switch op {
				case "+":
					return ta + tb, nil
				case "-":
					return ta - tb, nil
				}
			}
		}
		return nil, throw("InvalidOperationException", "operator %s cannot be applied to %s and %s", op, typeName(a), typeName(b))
	}
	switch numKind(a, b) {
	case 2:
		x, _ := toFloat(a)
		y, _ := toFloat(b)
		switch op {
		case "+":
			return x + y, nil
		case "-":
			return x - y, nil
		case "*":
			return x * y, nil
		case "/":
			return x / y, nil
		case "%":
			return math.Mod(x, y), nil
		}
	default:
		x, _ := toInt64(a)
		y, _ := toInt64(b)
		var r int64
		switch op {
		case "+":
			r = x + y
		case "-":
			r = x - y
		case "*":
			r = x * y
		case "/", "%":
			if y == 0 {
				return nil, throw("DivideByZeroException", "attempted to divide by zero")
			}
			if op == "/" {
				r = x / y
			} else {
				r = x % y
			}
		case "&":
			r = x & y
		case "|":
			r = x | y
		case "^":
			r = x ^ y
		case "<<", ">>":
			if numKind(a, b) == 0 {
				s := uint(y & 31)
				if op == "<<" {
					return int(int32(x) << s), nil
				}
				return int(int32(x) >> s), nil
			}
			s := uint(y & 63)
			if op == "<<" {
				return x << s, nil
			}
			return x >> s, nil
		}
		if numKind(a, b) == 0 {
			return int(int32(r)), nil
		}
		return r, nil
	}
	return nil, throw("InvalidOperationException", "operator %s is not supported", op)
}

// compare orders two values for <, <=, >, >=; ok is false when they are not comparable.
func compare(a, b any) (int, bool) {
	if ja, ok := a.(*JValue); ok {
		a = ja.V
	}
	if jb, ok := b.(*JValue); ok {
		b = jb.V
	}
	if isNumber(a) && isNumber(b) {
		if numKind(a, b) == 2 {
			x, _ := toFloat(a)
			y, _ := toFloat(b)
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			}
			return 0, true
		}
		x, _ := toInt64(a)
		y, _ := toInt64(b)
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	case DateTime:
		if y, ok := b.(DateTime); ok {
			return x.T.Compare(y.T), true
		}
	case TimeSpan:
		if y, ok := b.(TimeSpan); ok {
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			}
			return 0, true
		}
	}
	return 0, false
}

// equal is C#'s == for the values expressions see: ordinal strings, numeric promotion,
// JSON values by their content, everything else by identity.
func equal(a, b any) bool {
	if a == nil || b == nil {
		// a JSON null is a JValue object, not a null reference (as in Newtonsoft)
		return a == nil && b == nil
	}
	switch x := a.(type) {
	case string:
		switch y := b.(type) {
		case string:
			return x == y
		case *JValue:
			s, ok := y.V.(string)
			return ok && s == x
		}
		return false
	case bool:
		switch y := b.(type) {
		case bool:
			return x == y
		case *JValue:
			v, ok := y.V.(bool)
			return ok && v == x
		}
		return false
	case *JValue:
		if y, ok := b.(*JValue); ok {
			if x == y {
				return true
			}
			return equal(x.V, y.V) && x.V != nil
		}
		return equal(b, a)
	case DateTime:
		y, ok := b.(DateTime)
		return ok && x.T.Equal(y.T)
	case TimeSpan, Guid:
		return a == b
	}
	if isNumber(a) {
		if jb, ok := b.(*JValue); ok {
			b = jb.V
		}
		if isNumber(b) {
			c, _ := compare(a, b)
			return c == 0
		}
		return false
	}
	return sameRef(a, b)
}

// sameRef compares reference types by identity without panicking on uncomparable values.
func sameRef(a, b any) bool {
	switch x := a.(type) {
	case []string:
		y, ok := b.([]string)
		return ok && len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
	case []any:
		y, ok := b.([]any)
		return ok && len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
	case []byte:
		y, ok := b.([]byte)
		return ok && len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
	case map[string]any, policy.URL, *regexMatch:
		return false
	}
	defer func() { _ = recover() }()
	return a == b
}

func truthy(v any, what string) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case *JValue:
		if b, ok := x.V.(bool); ok {
			return b, nil
		}
	case nil:
		return false, throw("InvalidOperationException", "%s is null where a bool is needed", what)
	}
	return false, throw("InvalidCastException", "%s is %s where a bool is needed", what, typeName(v))
}
