package policies

import (
	"math"
	"net/http"
	"sync"

	"portcullis/internal/policy"
)

// ReasonConcurrencyLimitExceeded is Portcullis's reason when limit-concurrency refuses; APIM
// documents the 429 but no reason.
const ReasonConcurrencyLimitExceeded = "ConcurrencyLimitExceeded"

// Concurrency counts the requests inside limit-concurrency policies, by key. Policies that
// name the same key share one count, across APIs, as APIM's do.
type Concurrency struct {
	mu     sync.Mutex
	inside map[string]int64
}

// NewConcurrency returns an empty count.
func NewConcurrency() *Concurrency { return &Concurrency{inside: make(map[string]int64)} }

// enter admits one more request under key unless max are inside already.
func (c *Concurrency) enter(key string, max int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inside[key] >= max {
		return false
	}
	c.inside[key]++
	return true
}

func (c *Concurrency) leave(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inside[key] <= 1 {
		delete(c.inside, key) // an idle key costs nothing
		return
	}
	c.inside[key]--
}

// Inside reports how many requests are inside key's policies now.
func (c *Concurrency) Inside(key string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inside[key]
}

type limitConcurrency struct {
	conc  *Concurrency
	key   *policy.Value
	max   int64
	steps []policy.Step
}

func (d RateLimitDeps) compileLimitConcurrency(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "key", "max-count")
	if err != nil {
		return nil, err
	}
	p := &limitConcurrency{conc: d.Concurrency}
	if p.key, err = r.value("key", true); err != nil {
		return nil, err
	}
	if p.max, err = r.constInt("max-count", true, 0, 1, math.MaxInt32); err != nil {
		return nil, err
	}
	if p.steps, err = c.Steps(el.Children); err != nil {
		return nil, err
	}
	if d.Concurrency == nil {
		return nil, policy.Errorf(el.Pos, "<limit-concurrency> needs the gateway's concurrency count, which this context does not provide")
	}
	return p, nil
}

func (p *limitConcurrency) Run(ctx *policy.Context) error {
	key, err := p.key.String(ctx)
	if err != nil {
		return err
	}
	if !p.conc.enter(key, p.max) {
		return &policy.Failure{
			Reason:     ReasonConcurrencyLimitExceeded,
			Message:    "Too many requests",
			Detail:     "more than max-count requests are inside limit-concurrency for this key",
			StatusCode: http.StatusTooManyRequests,
		}
	}
	defer p.conc.leave(key)
	for _, s := range p.steps {
		if err := s.Run(ctx); err != nil {
			return err
		}
	}
	return nil
}
