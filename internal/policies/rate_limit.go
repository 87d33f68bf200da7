package policies

import (
	"math"
	"strconv"
	"time"

	"portcullis/internal/policy"
)

// rateLimit is one compiled <rate-limit>. APIM counts per subscription; Portcullis has no
// subscriptions, so every caller of the scope shares its counters (stricter, never looser,
// than APIM). The policy's own limit counts every call it sees; an <api> child counts the
// calls to that API and an <operation> child those to that operation, each independently.
type rateLimit struct {
	counters Counters
	key      string // where the policy stands, so that each policy counts on its own
	scope    string
	calls    int64
	period   time.Duration
	apis     []rateLimitAPI
	report   rateReport
}

type rateLimitAPI struct {
	name, id   string
	calls      int64
	period     time.Duration
	operations []rateLimitOperation
}

type rateLimitOperation struct {
	name, id string
	calls    int64
	period   time.Duration
}

func (d RateLimitDeps) compileRateLimit(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, append([]string{"calls", "renewal-period"}, rateReportAttrs...)...)
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el, "api"); err != nil {
		return nil, err
	}
	p := &rateLimit{counters: d.Counters, key: "rate-limit\x00" + c.Scope + "\x00" + el.Pos.String(), scope: c.Scope}
	if p.calls, err = r.constInt("calls", true, 0, 1, math.MaxInt32); err != nil {
		return nil, err
	}
	secs, err := r.constInt("renewal-period", true, 0, 1, maxRenewalPeriod)
	if err != nil {
		return nil, err
	}
	p.period = time.Duration(secs) * time.Second
	if p.report, err = readRateReport(r); err != nil {
		return nil, err
	}
	for _, a := range el.Children {
		api, err := readRateLimitTarget(a, c, "operation")
		if err != nil {
			return nil, err
		}
		entry := rateLimitAPI{name: api.name, id: api.id, calls: api.calls, period: api.period}
		for _, o := range a.Children {
			op, err := readRateLimitTarget(o, c)
			if err != nil {
				return nil, err
			}
			entry.operations = append(entry.operations, rateLimitOperation(op))
		}
		p.apis = append(p.apis, entry)
	}
	if d.Counters == nil {
		return nil, policy.Errorf(el.Pos, "<rate-limit> needs the gateway's counters, which this context does not provide")
	}
	return p, nil
}

// readRateLimitTarget reads an <api> or <operation>: name or id (id wins), calls, renewal-period.
func readRateLimitTarget(el *policy.Element, c *policy.Compiler, children ...string) (rateLimitOperation, error) {
	var t rateLimitOperation
	r, err := readElement(el, c, "name", "calls", "renewal-period")
	if err != nil {
		return t, err
	}
	if err := onlyChildren(el, children...); err != nil {
		return t, err
	}
	name, _, err := r.constant("name", false)
	if err != nil {
		return t, err
	}
	id, _ := el.Attr("id")
	if name == "" && id.Value == "" {
		return t, policy.Errorf(el.Pos, "<%s> needs a name or an id", el.Name)
	}
	t.name, t.id = name, id.Value
	if t.calls, err = r.constInt("calls", true, 0, 1, math.MaxInt32); err != nil {
		return t, err
	}
	secs, err := r.constInt("renewal-period", true, 0, 1, maxRenewalPeriod)
	if err != nil {
		return t, err
	}
	t.period = time.Duration(secs) * time.Second
	return t, nil
}

// matches: id wins over name, as in APIM.
func targetMatches(name, id, haveName, haveID string) bool {
	if id != "" {
		return id == haveID
	}
	return name == haveName
}

func (p *rateLimit) Run(ctx *policy.Context) error {
	type limit struct {
		key    string
		calls  int64
		period time.Duration
	}
	// A document shared by several APIs (or operations) counts each of them apart, as the
	// policy stands in each one's scope.
	key := p.key
	if (p.scope == policy.ScopeAPI || p.scope == policy.ScopeOperation) && ctx.API != nil {
		key += "\x00" + ctx.API.ID + "\x00" + ctx.API.Name
	}
	if p.scope == policy.ScopeOperation && ctx.Operation != nil {
		key += "\x00" + ctx.Operation.ID + "\x00" + ctx.Operation.Name
	}
	limits := []limit{{key, p.calls, p.period}}
	for i, a := range p.apis {
		if ctx.API == nil || !targetMatches(a.name, a.id, ctx.API.Name, ctx.API.ID) {
			continue
		}
		apiKey := key + "\x00api" + strconv.Itoa(i)
		limits = append(limits, limit{apiKey, a.calls, a.period})
		for j, o := range a.operations {
			if ctx.Operation != nil && targetMatches(o.name, o.id, ctx.Operation.Name, ctx.Operation.ID) {
				limits = append(limits, limit{apiKey + "\x00op" + strconv.Itoa(j), o.calls, o.period})
			}
		}
	}
	// Check every applicable limit before counting in any, so a refusal counts nowhere.
	for _, l := range limits {
		if res := p.counters.Rate(l.key, l.calls, 1, l.period, false); !res.Allowed {
			return p.report.refused(ctx, res.RetryAfter, l.calls)
		}
	}
	var narrowest RateResult
	for i, l := range limits {
		res := p.counters.Rate(l.key, l.calls, 1, l.period, true)
		if !res.Allowed {
			return p.report.refused(ctx, res.RetryAfter, l.calls)
		}
		if i == len(limits)-1 {
			narrowest = res
		}
	}
	p.report.allowed(ctx, narrowest.Remaining, limits[len(limits)-1].calls)
	return nil
}
