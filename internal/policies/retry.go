package policies

import (
	"math/rand/v2"
	"time"

	"portcullis/internal/policy"
)

// RetryDeps are what retry needs from the gateway.
type RetryDeps struct {
	// Sleep waits between attempts; nil is time.Sleep. Tests inject a recorder.
	Sleep func(d time.Duration)
}

// APIM's bounds: at most 50 retries, waits of at most 300 seconds.
const (
	maxRetryCount    = 50
	maxRetrySeconds  = 300
	retryJitterLow   = 0.8
	retryJitterRange = 0.4
)

// retry is retry: it runs its policies once, then again while condition is true, at most
// count more times, waiting a fixed, linear or exponential interval between attempts.
type retry struct {
	sleep          func(time.Duration)
	condition      policy.Value
	count          *policy.Value
	interval       *policy.Value
	maxInterval    *policy.Value
	delta          *policy.Value
	firstFastRetry *policy.Value
	steps          []policy.Step
}

func (d RetryDeps) compileRetry(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "condition", "count", "interval", "max-interval", "delta", "first-fast-retry")
	if err != nil {
		return nil, err
	}
	rt := &retry{sleep: d.Sleep}
	if rt.sleep == nil {
		rt.sleep = time.Sleep
	}
	cond, err := r.boolValue("condition")
	if err != nil {
		return nil, err
	}
	if cond == nil {
		return nil, policy.Errorf(el.Pos, "<retry> needs a condition attribute")
	}
	rt.condition = *cond
	if rt.count, err = r.intValue("count", true, 0, maxRetryCount); err != nil {
		return nil, err
	}
	if rt.interval, err = r.intValue("interval", true, 0, maxRetrySeconds); err != nil {
		return nil, err
	}
	if rt.maxInterval, err = r.intValue("max-interval", false, 0, maxRetrySeconds); err != nil {
		return nil, err
	}
	if rt.delta, err = r.intValue("delta", false, 0, maxRetrySeconds); err != nil {
		return nil, err
	}
	if rt.firstFastRetry, err = r.boolValue("first-fast-retry"); err != nil {
		return nil, err
	}
	if rt.steps, err = c.Steps(el.Children); err != nil {
		return nil, err
	}
	return rt, nil
}

func (rt *retry) Run(ctx *policy.Context) error {
	count, err := evalInt(ctx, rt.count, "retry count", 0, maxRetryCount)
	if err != nil {
		return err
	}
	// A forwarded body must be resent on each attempt, so it is read into memory first.
	if ctx.Request != nil {
		if _, err := ctx.Request.Body.Bytes(); err != nil {
			return err
		}
	}
	for attempt := int64(0); ; attempt++ {
		if err := runSteps(ctx, rt.steps); err != nil {
			return err
		}
		if attempt >= count {
			return nil
		}
		again, err := evalBool(ctx, &rt.condition, "retry condition", false)
		if err != nil || !again {
			return err
		}
		wait, err := rt.wait(ctx, attempt+1)
		if err != nil {
			return err
		}
		if wait > 0 {
			rt.sleep(wait)
		}
	}
}

// wait is the pause before retry n (1-based): fixed (interval), linear (interval and delta)
// or exponential (interval, delta and max-interval, with APIM's ±20% jitter on delta).
func (rt *retry) wait(ctx *policy.Context, n int64) (time.Duration, error) {
	fast, err := evalBool(ctx, rt.firstFastRetry, "retry first-fast-retry", false)
	if err != nil {
		return 0, err
	}
	if fast && n == 1 {
		return 0, nil
	}
	interval, err := evalInt(ctx, rt.interval, "retry interval", 0, maxRetrySeconds)
	if err != nil {
		return 0, err
	}
	secs := float64(interval)
	if rt.delta != nil {
		delta, err := evalInt(ctx, rt.delta, "retry delta", 0, maxRetrySeconds)
		if err != nil {
			return 0, err
		}
		if rt.maxInterval != nil {
			maxI, err := evalInt(ctx, rt.maxInterval, "retry max-interval", 0, maxRetrySeconds)
			if err != nil {
				return 0, err
			}
			jitter := float64(delta) * (retryJitterLow + retryJitterRange*rand.Float64())
			secs = min(float64(interval)+float64(int64(1)<<min(n, 30)-1)*jitter, float64(maxI))
		} else {
			secs = float64(interval) + float64(n-1)*float64(delta)
		}
	}
	return time.Duration(secs * float64(time.Second)), nil
}
