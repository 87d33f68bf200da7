package expr

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// formatValue is ToString(format) / an interpolation hole's format, invariant culture.
func formatValue(v any, format string) (string, error) {
	if format == "" {
		return toStr(v), nil
	}
	switch x := v.(type) {
	case DateTime:
		return formatDateTime(x, format), nil
	case time.Time:
		return formatDateTime(DateTime{T: x}, format), nil
	case TimeSpan:
		return formatTimeSpan(time.Duration(x)), nil
	case Guid:
		s := x.String()
		switch format {
		case "N", "n":
			return strings.ReplaceAll(s, "-", ""), nil
		case "B", "b":
			return "{" + s + "}", nil
		case "P", "p":
			return "(" + s + ")", nil
		}
		return s, nil
	case int, int64, float64:
		return formatNumber(x, format)
	case *JValue:
		return formatValue(x.V, format)
	}
	return toStr(v), nil
}

func formatNumber(v any, format string) (string, error) {
	f, _ := toFloat(v)
	i, isInt := toInt64(v)
	spec := format[0]
	prec := -1
	if len(format) > 1 {
		p, err := strconv.Atoi(format[1:])
		if err == nil {
			prec = p
		} else {
			spec = 0
		}
	}
	switch spec {
	case 'D', 'd':
		if !isInt {
			return "", throw("FormatException", "format %q needs an integer", format)
		}
		s := strconv.FormatInt(abs64(i), 10)
		for len(s) < prec {
			s = "0" + s
		}
		if i < 0 {
			s = "-" + s
		}
		return s, nil
	case 'X', 'x':
		if !isInt {
			return "", throw("FormatException", "format %q needs an integer", format)
		}
		s := strconv.FormatUint(uint64(i), 16)
		if isIntKind(v) {
			s = strconv.FormatUint(uint64(uint32(i)), 16)
		}
		for len(s) < prec {
			s = "0" + s
		}
		if spec == 'X' {
			s = strings.ToUpper(s)
		}
		return s, nil
	case 'F', 'f', 'N', 'n':
		if prec < 0 {
			prec = 2
		}
		s := strconv.FormatFloat(f, 'f', prec, 64)
		if spec == 'N' || spec == 'n' {
			s = groupThousands(s)
		}
		return s, nil
	case 'P', 'p':
		if prec < 0 {
			prec = 2
		}
		return groupThousands(strconv.FormatFloat(f*100, 'f', prec, 64)) + " %", nil
	case 'E', 'e':
		if prec < 0 {
			prec = 6
		}
		s := strconv.FormatFloat(f, byte(spec), prec, 64)
		// .NET pads the exponent to three digits
		if k := strings.LastIndexAny(s, "+-"); k > 0 && len(s)-k-1 < 3 {
			s = s[:k+1] + strings.Repeat("0", 3-(len(s)-k-1)) + s[k+1:]
		}
		return s, nil
	case 'G', 'g', 'R', 'r':
		return toStr(v), nil
	}
	// custom: "0.00", "#,##0.0", "000"
	if strings.Trim(format, "0#.,") == "" {
		dec := 0
		if k := strings.IndexByte(format, '.'); k >= 0 {
			dec = len(format) - k - 1
		}
		s := strconv.FormatFloat(f, 'f', dec, 64)
		intPart := strings.Split(format, ".")[0]
		zeros := strings.Count(intPart, "0")
		head, tail, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
		for len(head) < zeros {
			head = "0" + head
		}
		if strings.Contains(intPart, ",") {
			head = groupThousands(head)
		}
		out := head
		if tail != "" {
			out += "." + tail
		}
		if f < 0 {
			out = "-" + out
		}
		return out, nil
	}
	return "", throw("FormatException", "format %q is not supported", format)
}

func isIntKind(v any) bool { _, ok := v.(int); return ok }

func abs64(i int64) int64 {
	if i < 0 {
		return -i
	}
	return i
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	head, tail, hasTail := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range head {
		if i > 0 && (len(head)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if hasTail {
		out += "." + tail
	}
	if neg {
		out = "-" + out
	}
	return out
}

var standardDateFormats = map[string]string{
	"d": "MM/dd/yyyy",
	"D": "dddd, dd MMMM yyyy",
	"f": "dddd, dd MMMM yyyy HH:mm",
	"F": "dddd, dd MMMM yyyy HH:mm:ss",
	"g": "MM/dd/yyyy HH:mm",
	"G": "MM/dd/yyyy HH:mm:ss",
	"m": "MMMM dd",
	"M": "MMMM dd",
	"o": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
	"O": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
	"r": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
	"R": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
	"s": "yyyy'-'MM'-'dd'T'HH':'mm':'ss",
	"t": "HH:mm",
	"T": "HH:mm:ss",
	"u": "yyyy'-'MM'-'dd HH':'mm':'ss'Z'",
	"U": "dddd, dd MMMM yyyy HH:mm:ss",
	"y": "yyyy MMMM",
	"Y": "yyyy MMMM",
}

// formatDateTime implements .NET's DateTime.ToString(format) for the invariant culture.
func formatDateTime(d DateTime, format string) string {
	t := d.T
	if std, ok := standardDateFormats[format]; ok {
		if format == "r" || format == "R" || format == "u" {
			t = t.UTC()
		}
		format = std
	}
	var b strings.Builder
	for i := 0; i < len(format); {
		c := format[i]
		n := 1
		for i+n < len(format) && format[i+n] == c {
			n++
		}
		switch c {
		case 'y':
			switch {
			case n == 1:
				b.WriteString(strconv.Itoa(t.Year() % 100))
			case n == 2:
				fmt.Fprintf(&b, "%02d", t.Year()%100)
			default:
				fmt.Fprintf(&b, "%0*d", n, t.Year())
			}
		case 'M':
			switch n {
			case 1:
				b.WriteString(strconv.Itoa(int(t.Month())))
			case 2:
				fmt.Fprintf(&b, "%02d", int(t.Month()))
			case 3:
				b.WriteString(t.Month().String()[:3])
			default:
				b.WriteString(t.Month().String())
			}
		case 'd':
			switch n {
			case 1:
				b.WriteString(strconv.Itoa(t.Day()))
			case 2:
				fmt.Fprintf(&b, "%02d", t.Day())
			case 3:
				b.WriteString(t.Weekday().String()[:3])
			default:
				b.WriteString(t.Weekday().String())
			}
		case 'H':
			fmt.Fprintf(&b, "%0*d", min(n, 2), t.Hour())
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			fmt.Fprintf(&b, "%0*d", min(n, 2), h)
		case 'm':
			fmt.Fprintf(&b, "%0*d", min(n, 2), t.Minute())
		case 's':
			fmt.Fprintf(&b, "%0*d", min(n, 2), t.Second())
		case 'f', 'F':
			digits := fmt.Sprintf("%09d", t.Nanosecond())[:min(n, 7)]
			if c == 'F' {
				digits = strings.TrimRight(digits, "0")
			}
			b.WriteString(digits)
		case 't':
			ampm := "AM"
			if t.Hour() >= 12 {
				ampm = "PM"
			}
			b.WriteString(ampm[:min(n, 2)])
		case 'z':
			_, off := t.Zone()
			sign := '+'
			if off < 0 {
				sign, off = '-', -off
			}
			switch n {
			case 1:
				fmt.Fprintf(&b, "%c%d", sign, off/3600)
			case 2:
				fmt.Fprintf(&b, "%c%02d", sign, off/3600)
			default:
				fmt.Fprintf(&b, "%c%02d:%02d", sign, off/3600, off%3600/60)
			}
		case 'K':
			if d.Local {
				_, off := t.Zone()
				sign := '+'
				if off < 0 {
					sign, off = '-', -off
				}
				fmt.Fprintf(&b, "%c%02d:%02d", sign, off/3600, off%3600/60)
			} else if t.Location() == time.UTC {
				b.WriteByte('Z')
			}
		case '\'', '"':
			end := strings.IndexByte(format[i+1:], c)
			if end < 0 {
				b.WriteString(format[i+1:])
				return b.String()
			}
			b.WriteString(format[i+1 : i+1+end])
			i += end + 2
			continue
		case '\\':
			if i+1 < len(format) {
				b.WriteByte(format[i+1])
			}
			i += 2
			continue
		default:
			b.WriteString(format[i : i+n])
		}
		i += n
	}
	return b.String()
}

var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.9999999",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05Z",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
	"01/02/2006 15:04:05",
	"1/2/2006 15:04:05",
	"01/02/2006 3:04:05 PM",
	"1/2/2006 3:04:05 PM",
	"01/02/2006",
	"1/2/2006",
	time.RFC1123,
	time.RFC1123Z,
	"Mon, 2 Jan 2006 15:04:05 GMT",
	"2 Jan 2006",
	"January 2, 2006",
}

// parseDateTime is DateTime.Parse for the invariant culture's common shapes.
func parseDateTime(s string) (DateTime, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			hasZone := strings.ContainsAny(l, "Z") || strings.Contains(l, "MST") || strings.Contains(l, "GMT") || strings.Contains(l, "-0700")
			if hasZone {
				return DateTime{T: t.UTC(), Local: true}, nil
			}
			return DateTime{T: t}, nil
		}
	}
	return DateTime{}, throw("FormatException", "the string was not recognized as a valid DateTime")
}

// parseTimeSpan is TimeSpan.Parse: [-][d.]hh:mm[:ss[.fffffff]] or d.
func parseTimeSpan(s string) (TimeSpan, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	bad := throw("FormatException", "the string was not recognized as a valid TimeSpan")
	var days int64
	if !strings.Contains(s, ":") {
		d, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return 0, bad
		}
		return TimeSpan(time.Duration(d) * 24 * time.Hour), nil
	}
	if i := strings.IndexByte(s, '.'); i >= 0 && i < strings.IndexByte(s, ':') {
		d, err := strconv.ParseInt(s[:i], 10, 32)
		if err != nil {
			return 0, bad
		}
		days, s = d, s[i+1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, bad
	}
	var frac float64
	if len(parts) == 3 {
		sec, f, _ := strings.Cut(parts[2], ".")
		parts[2] = sec
		if f != "" {
			v, err := strconv.ParseFloat("0."+f, 64)
			if err != nil {
				return 0, bad
			}
			frac = v
		}
	}
	var nums [3]int64
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 0 || (i > 0 && n > 59) || (i == 0 && n > 23) {
			return 0, bad
		}
		nums[i] = n
	}
	d := time.Duration(days)*24*time.Hour + time.Duration(nums[0])*time.Hour + time.Duration(nums[1])*time.Minute +
		time.Duration(nums[2])*time.Second + time.Duration(math.Round(frac*1e9))
	if neg {
		d = -d
	}
	return TimeSpan(d), nil
}
