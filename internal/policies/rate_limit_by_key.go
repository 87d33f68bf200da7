package policies

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"portcullis/internal/policy"
)

// ReasonRateLimitExceeded is APIM's reason when rate-limit or rate-limit-by-key refuses.
const ReasonRateLimitExceeded = "RateLimitExceeded"

// maxRenewalPeriod is APIM's bound on a rate limit's sliding window, in seconds.
const maxRenewalPeriod = 300

// RateLimitDeps are the rate and quota policies' services.
type RateLimitDeps struct {
	// Counters hold the counts; nil makes these policies a load error.
	Counters Counters
	// Concurrency counts limit-concurrency's requests; nil makes that policy a load error.
	Concurrency *Concurrency
}

// rateReport is the header and variable attributes rate-limit and rate-limit-by-key share.
type rateReport struct {
	retryAfterHeader, retryAfterVar string
	remainingHeader, remainingVar   string
	totalHeader                     string
}

var rateReportAttrs = []string{
	"retry-after-header-name", "retry-after-variable-name",
	"remaining-calls-header-name", "remaining-calls-variable-name", "total-calls-header-name",
}

func readRateReport(r *elemReader) (rateReport, error) {
	var rep rateReport
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"retry-after-header-name", &rep.retryAfterHeader},
		{"retry-after-variable-name", &rep.retryAfterVar},
		{"remaining-calls-header-name", &rep.remainingHeader},
		{"remaining-calls-variable-name", &rep.remainingVar},
		{"total-calls-header-name", &rep.totalHeader},
	} {
		s, _, err := r.constant(f.name, false)
		if err != nil {
			return rep, err
		}
		*f.dst = s
	}
	if rep.retryAfterHeader == "" {
		rep.retryAfterHeader = "Retry-After"
	}
	return rep, nil
}

// allowed records a counted call: remaining-calls variable now, response headers once the
// response is final.
func (rep rateReport) allowed(ctx *policy.Context, remaining, total int64) {
	if rep.remainingVar != "" {
		setVariable(ctx, rep.remainingVar, int(remaining))
	}
	if rep.remainingHeader == "" && rep.totalHeader == "" {
		return
	}
	ctx.OnComplete(func(ctx *policy.Context) {
		if ctx.Response == nil {
			return
		}
		if rep.remainingHeader != "" {
			ctx.Response.Header.Set(rep.remainingHeader, strconv.FormatInt(remaining, 10))
		}
		if rep.totalHeader != "" {
			ctx.Response.Header.Set(rep.totalHeader, strconv.FormatInt(total, 10))
		}
	})
}

// refused is the 429 failure for a call that does not fit.
func (rep rateReport) refused(ctx *policy.Context, retry time.Duration, total int64) error {
	secs := int64(math.Ceil(retry.Seconds()))
	if rep.retryAfterVar != "" {
		setVariable(ctx, rep.retryAfterVar, int(secs))
	}
	if rep.remainingVar != "" {
		setVariable(ctx, rep.remainingVar, 0)
	}
	f := &policy.Failure{
		Reason:     ReasonRateLimitExceeded,
		Message:    "Rate limit is exceeded. Try again in " + strconv.FormatInt(secs, 10) + " seconds.",
		StatusCode: http.StatusTooManyRequests,
		Header:     []policy.Field{{Name: rep.retryAfterHeader, Value: strconv.FormatInt(secs, 10)}},
	}
	if rep.remainingHeader != "" {
		f.Header = append(f.Header, policy.Field{Name: rep.remainingHeader, Value: "0"})
	}
	if rep.totalHeader != "" {
		f.Header = append(f.Header, policy.Field{Name: rep.totalHeader, Value: strconv.FormatInt(total, 10)})
	}
	return f
}

// rateLimitByKey is one compiled <rate-limit-by-key>.
type rateLimitByKey struct {
	counters             Counters
	calls, period, key   *policy.Value
	condition, increment *policy.Value
	report               rateReport
}

func (d RateLimitDeps) compileRateLimitByKey(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, append([]string{"calls", "renewal-period", "counter-key", "increment-condition", "increment-count"}, rateReportAttrs...)...)
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	p := &rateLimitByKey{counters: d.Counters}
	if p.calls, err = r.intValue("calls", true, 1, math.MaxInt32); err != nil {
		return nil, err
	}
	if p.period, err = r.intValue("renewal-period", true, 1, maxRenewalPeriod); err != nil {
		return nil, err
	}
	if p.key, err = r.value("counter-key", true); err != nil {
		return nil, err
	}
	if p.condition, err = r.boolValue("increment-condition"); err != nil {
		return nil, err
	}
	if p.increment, err = r.intValue("increment-count", false, 0, math.MaxInt32); err != nil {
		return nil, err
	}
	if p.report, err = readRateReport(r); err != nil {
		return nil, err
	}
	if d.Counters == nil {
		return nil, policy.Errorf(el.Pos, "<rate-limit-by-key> needs the gateway's counters, which this context does not provide")
	}
	return p, nil
}

func (p *rateLimitByKey) Run(ctx *policy.Context) error {
	calls, err := evalInt(ctx, p.calls, "calls", 1, math.MaxInt32)
	if err != nil {
		return err
	}
	secs, err := evalInt(ctx, p.period, "renewal-period", 1, maxRenewalPeriod)
	if err != nil {
		return err
	}
	key, err := p.key.String(ctx)
	if err != nil {
		return err
	}
	n := int64(1)
	if p.increment != nil {
		if n, err = evalInt(ctx, p.increment, "increment-count", 0, math.MaxInt32); err != nil {
			return err
		}
	}
	period := time.Duration(secs) * time.Second
	key = "rate-limit-by-key\x00" + key
	// With an increment-condition the call is counted once the response is known (the
	// condition usually reads context.Response); until then it only has to fit.
	deferred := p.condition != nil
	res := p.counters.Rate(key, calls, n, period, !deferred)
	if !res.Allowed {
		return p.report.refused(ctx, res.RetryAfter, calls)
	}
	if deferred {
		ctx.OnComplete(func(ctx *policy.Context) {
			if ok, err := evalBool(ctx, p.condition, "increment-condition", false); err == nil && ok {
				p.counters.Rate(key, calls, n, period, true)
			}
		})
		res.Remaining = max(res.Remaining-n, 0)
	}
	p.report.allowed(ctx, res.Remaining, calls)
	return nil
}
