package policies

import (
	"slices"
	"sync"
	"time"
)

// Counters hold the call counts of rate-limit, rate-limit-by-key and quota-by-key. The
// gateway's are in memory for one instance (MemoryCounters); a shared store can implement
// the same interface later so that several instances count together.
type Counters interface {
	// Rate counts n calls for key in the sliding window of period that ends now, unless the
	// window would then hold more than limit (nothing is counted then). With commit false
	// it only reports whether n more calls would fit.
	Rate(key string, limit, n int64, period time.Duration, commit bool) RateResult
	// Quota counts calls and kilobytes for key in the fixed period that holds now. Periods
	// start at start and last period; 0 means one period that never renews. A request is
	// refused when the calls or the kilobytes already counted reach their limit (a limit of 0
	// is not checked); with commit false it only checks.
	Quota(key string, q QuotaLimit, calls, kilobytes int64, commit bool) QuotaResult
}

// RateResult is the window after Rate.
type RateResult struct {
	Allowed   bool
	Remaining int64 // calls left in the window
	// RetryAfter is how long until enough calls leave the window for the refused ones to fit.
	RetryAfter time.Duration
}

// QuotaLimit is one quota-by-key's limits and period.
type QuotaLimit struct {
	Calls, Kilobytes int64
	Period           time.Duration
	Start            time.Time
}

// QuotaResult is the period after Quota.
type QuotaResult struct {
	Allowed bool
	// Bandwidth is true when the kilobytes, not the calls, ran out.
	Bandwidth bool
	// RenewsIn is the time left in the period; 0 for a period that never renews.
	RenewsIn       time.Duration
	RemainingCalls int64
}

// DefaultMaxCounterKeys bounds the keys MemoryCounters holds.
const DefaultMaxCounterKeys = 1 << 20

// rateSlots is how many slots a sliding window is cut into: its resolution is period/60 (at
// least one second), so a window costs at most 60 counts however many calls it allows.
const rateSlots = 60

// MemoryCounters are Counters in this process's memory. Windows that have emptied are
// dropped when the number of keys reaches MaxKeys; if that frees nothing, the oldest half
// of the keys go (their callers start afresh), so that distinct keys cannot exhaust memory.
type MemoryCounters struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxKeys bounds the keys held; 0 means DefaultMaxCounterKeys.
	MaxKeys int

	mu     sync.Mutex
	rates  map[string]*slidingWindow
	quotas map[string]*fixedWindow
}

var _ Counters = (*MemoryCounters)(nil)

// NewMemoryCounters returns empty in-memory counters.
func NewMemoryCounters() *MemoryCounters { return &MemoryCounters{} }

func (m *MemoryCounters) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *MemoryCounters) maxKeys() int {
	if m.MaxKeys > 0 {
		return m.MaxKeys
	}
	return DefaultMaxCounterKeys
}

// slidingWindow counts calls in slots of slot length; head is the absolute index of the
// newest slot (time since the epoch / slot).
type slidingWindow struct {
	slot   time.Duration
	counts []int64
	head   int64
	total  int64
	used   time.Time
}

func newSlidingWindow(period time.Duration, now time.Time) *slidingWindow {
	slot := max(period/rateSlots, time.Second)
	n := int((period + slot - 1) / slot)
	w := &slidingWindow{slot: slot, counts: make([]int64, max(n, 1))}
	w.head = now.UnixNano() / int64(slot)
	return w
}

// advance moves the window so that its newest slot holds now.
func (w *slidingWindow) advance(now time.Time) {
	idx := now.UnixNano() / int64(w.slot)
	n := int64(len(w.counts))
	if idx-w.head >= n {
		clear(w.counts)
		w.total = 0
		w.head = idx
		return
	}
	for w.head < idx {
		w.head++
		i := w.head % n
		w.total -= w.counts[i]
		w.counts[i] = 0
	}
}

// retryAfter is the time until the oldest slots have left the window and freed need calls.
func (w *slidingWindow) retryAfter(now time.Time, need int64) time.Duration {
	n := int64(len(w.counts))
	var freed int64
	for s := w.head - n + 1; s <= w.head; s++ {
		freed += w.counts[((s%n)+n)%n]
		if freed >= need {
			end := time.Unix(0, (s+n)*int64(w.slot))
			return end.Sub(now)
		}
	}
	return time.Duration(n) * w.slot
}

// Rate implements Counters.
func (m *MemoryCounters) Rate(key string, limit, n int64, period time.Duration, commit bool) RateResult {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rates == nil {
		m.rates = make(map[string]*slidingWindow)
	}
	w, ok := m.rates[key]
	if ok && w.slot != max(period/rateSlots, time.Second) {
		ok = false // the policy's period changed (a reload): start the window afresh
	}
	if !ok {
		m.makeRoom(now)
		w = newSlidingWindow(period, now)
		m.rates[key] = w
	}
	w.advance(now)
	w.used = now
	if w.total+n > limit {
		return RateResult{Remaining: max(limit-w.total, 0), RetryAfter: max(w.retryAfter(now, w.total+n-limit), time.Second)}
	}
	if commit {
		w.counts[w.head%int64(len(w.counts))] += n
		w.total += n
	}
	return RateResult{Allowed: true, Remaining: limit - w.total}
}

// fixedWindow is one quota period's counts.
type fixedWindow struct {
	period    int64 // index of the period counted
	calls, kb int64
	used      time.Time
}

// Quota implements Counters.
func (m *MemoryCounters) Quota(key string, q QuotaLimit, calls, kilobytes int64, commit bool) QuotaResult {
	now := m.now()
	idx, renews := quotaPeriod(q, now)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.quotas == nil {
		m.quotas = make(map[string]*fixedWindow)
	}
	w, ok := m.quotas[key]
	if !ok {
		m.makeRoom(now)
		w = &fixedWindow{period: idx}
		m.quotas[key] = w
	}
	if w.period != idx {
		*w = fixedWindow{period: idx}
	}
	w.used = now
	res := QuotaResult{RenewsIn: renews}
	switch {
	case q.Calls > 0 && w.calls >= q.Calls:
	case q.Kilobytes > 0 && w.kb >= q.Kilobytes:
		res.Bandwidth = true
	default:
		res.Allowed = true
		if commit {
			w.calls += calls
			w.kb += kilobytes
		}
	}
	if q.Calls > 0 {
		res.RemainingCalls = max(q.Calls-w.calls, 0)
	}
	return res
}

// quotaPeriod is the index of the period that holds now and the time until it ends.
func quotaPeriod(q QuotaLimit, now time.Time) (int64, time.Duration) {
	if q.Period <= 0 || now.Before(q.Start) {
		return 0, 0
	}
	// Whole seconds: the default start (year 1) is beyond time.Duration's range from now.
	secs := now.Unix() - q.Start.Unix()
	p := max(int64(q.Period/time.Second), 1)
	return secs / p, time.Duration(p-secs%p)*time.Second - time.Duration(now.Nanosecond())
}

// makeRoom keeps the number of keys under the bound; called with m.mu held.
func (m *MemoryCounters) makeRoom(now time.Time) {
	if len(m.rates)+len(m.quotas) < m.maxKeys() {
		return
	}
	for k, w := range m.rates {
		if now.Sub(w.used) > time.Duration(len(w.counts))*w.slot {
			delete(m.rates, k)
		}
	}
	if len(m.rates)+len(m.quotas) < m.maxKeys() {
		return
	}
	// Nothing had expired: forget the least recently used half.
	var cutoff time.Time
	var times []time.Time
	for _, w := range m.rates {
		times = append(times, w.used)
	}
	for _, w := range m.quotas {
		times = append(times, w.used)
	}
	if len(times) == 0 {
		return
	}
	cutoff = medianTime(times)
	for k, w := range m.rates {
		if !w.used.After(cutoff) {
			delete(m.rates, k)
		}
	}
	for k, w := range m.quotas {
		if !w.used.After(cutoff) {
			delete(m.quotas, k)
		}
	}
}

func medianTime(ts []time.Time) time.Time {
	slices.SortFunc(ts, time.Time.Compare)
	return ts[len(ts)/2]
}

// withInMemoryDefaults gives the stateful policies this instance's in-memory stores when the
// gateway passes none. Counts and cached values then live as long as the registry: the
// gateway passes its own to keep them across configuration reloads.
func (d Deps) withInMemoryDefaults() Deps {
	if d.RateLimit.Counters == nil {
		d.RateLimit.Counters = NewMemoryCounters()
	}
	if d.RateLimit.Concurrency == nil {
		d.RateLimit.Concurrency = NewConcurrency()
	}
	if d.Cache.Cache == nil {
		d.Cache.Cache = NewMemoryCache()
	}
	return d
}
