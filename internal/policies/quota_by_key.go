package policies

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"portcullis/internal/policy"
)

// ReasonQuotaExceeded is APIM's reason when quota-by-key refuses.
const ReasonQuotaExceeded = "QuotaExceeded"

// quotaCountedVariable holds the quota keys a request has been counted under. The name is
// not a C# identifier, so expressions do not meet it by accident.
const quotaCountedVariable = "portcullis:quota-counted"

// minQuotaPeriod is APIM's shortest quota period in seconds (0 means one period forever).
const minQuotaPeriod = 300

// quotaByKey is one compiled <quota-by-key>: a fixed-window count of calls and/or kilobytes
// per key. Calls are counted when the request passes (or, with increment-condition, once the
// response is known); kilobytes (request and response bodies) once the response is final.
type quotaByKey struct {
	counters  Counters
	limit     QuotaLimit
	key       *policy.Value
	condition *policy.Value
}

func (d RateLimitDeps) compileQuotaByKey(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "calls", "bandwidth", "renewal-period", "counter-key", "increment-condition", "first-period-start")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	p := &quotaByKey{counters: d.Counters}
	if p.limit.Calls, err = r.constInt("calls", false, 0, 1, math.MaxInt64); err != nil {
		return nil, err
	}
	if p.limit.Kilobytes, err = r.constInt("bandwidth", false, 0, 1, math.MaxInt64); err != nil {
		return nil, err
	}
	if p.limit.Calls == 0 && p.limit.Kilobytes == 0 {
		return nil, policy.Errorf(el.Pos, "<quota-by-key> needs calls, bandwidth or both")
	}
	secs, err := r.constInt("renewal-period", true, 0, 0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	if secs != 0 && secs < minQuotaPeriod {
		a, _ := el.Attr("renewal-period")
		return nil, policy.Errorf(a.Pos, "<quota-by-key> renewal-period: expected 0 (never renews) or at least %d seconds, found %d", minQuotaPeriod, secs)
	}
	p.limit.Period = time.Duration(secs) * time.Second
	p.limit.Start = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	if s, ok, err := r.constant("first-period-start", false); err != nil {
		return nil, err
	} else if ok {
		t, err := parseISOTime(s)
		if err != nil {
			a, _ := el.Attr("first-period-start")
			return nil, policy.Errorf(a.Pos, "<quota-by-key> first-period-start: %v", err)
		}
		p.limit.Start = t
	}
	if p.key, err = r.value("counter-key", true); err != nil {
		return nil, err
	}
	if p.condition, err = r.boolValue("increment-condition"); err != nil {
		return nil, err
	}
	if d.Counters == nil {
		return nil, policy.Errorf(el.Pos, "<quota-by-key> needs the gateway's counters, which this context does not provide")
	}
	return p, nil
}

func parseISOTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("expected an ISO 8601 date and time such as 2024-01-01T00:00:00Z, found %q", s)
}

func (p *quotaByKey) Run(ctx *policy.Context) error {
	key, err := p.key.String(ctx)
	if err != nil {
		return err
	}
	key = "quota-by-key\x00" + key
	// APIM counts a key once per request, however many quota-by-key policies name it.
	counted, _ := ctx.Variables[quotaCountedVariable].(map[string]bool)
	deferred := p.condition != nil
	once := !counted[key]
	limit := p.limit
	if !once && !deferred && limit.Calls > 0 {
		limit.Calls++ // this request is among the calls counted already
	}
	res := p.counters.Quota(key, limit, 1, 0, !deferred && once)
	if !res.Allowed {
		return quotaRefused(res)
	}
	if !once {
		return nil
	}
	if counted == nil {
		counted = map[string]bool{}
		setVariable(ctx, quotaCountedVariable, counted)
	}
	counted[key] = true
	if deferred || p.limit.Kilobytes > 0 {
		ctx.OnComplete(func(ctx *policy.Context) {
			calls := int64(0)
			if deferred {
				ok, err := evalBool(ctx, p.condition, "increment-condition", false)
				if err != nil || !ok {
					return
				}
				calls = 1
			}
			var kb int64
			if p.limit.Kilobytes > 0 {
				kb = (messageBytes(ctx) + 1023) / 1024
			}
			if calls > 0 || kb > 0 {
				p.counters.Quota(key, QuotaLimit{Calls: 0, Kilobytes: 0, Period: p.limit.Period, Start: p.limit.Start}, calls, kb, true)
			}
		})
	}
	return nil
}

// messageBytes is the size of the request and response bodies, as far as it is known.
func messageBytes(ctx *policy.Context) int64 {
	var n int64
	if ctx.Request != nil {
		if _, size := ctx.Request.Body.Stream(); size > 0 {
			n += size
		}
	}
	if ctx.Response != nil {
		if _, size := ctx.Response.Body.Stream(); size > 0 {
			n += size
		}
	}
	return n
}

func quotaRefused(res QuotaResult) error {
	what := "call volume"
	if res.Bandwidth {
		what = "bandwidth"
	}
	msg := "Out of " + what + " quota."
	f := &policy.Failure{Reason: ReasonQuotaExceeded, StatusCode: http.StatusForbidden}
	if res.RenewsIn > 0 {
		msg += " Quota will be replenished in " + timeSpan(res.RenewsIn) + "."
		secs := int64(math.Ceil(res.RenewsIn.Seconds()))
		f.Header = []policy.Field{{Name: "Retry-After", Value: strconv.FormatInt(secs, 10)}}
	}
	f.Message = msg
	return f
}

// timeSpan formats d as .NET's TimeSpan does: [d.]hh:mm:ss, rounded up to the second.
func timeSpan(d time.Duration) string {
	secs := int64(math.Ceil(d.Seconds()))
	days := secs / 86400
	secs %= 86400
	s := fmt.Sprintf("%02d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	if days > 0 {
		s = strconv.FormatInt(days, 10) + "." + s
	}
	return s
}
