package main

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// constantRate sends GET target at a fixed rate for d over 64 keep-alive connections and
// returns the median and 99th-percentile latency and the share of 2xx answers. Each request's
// latency counts from when it was due, not from when a connection was free, so a system that
// falls behind shows it (no coordinated omission). It is built on fasthttp because a
// net/http-based generator cannot hold ten thousand requests per second on one core.
func constantRate(target, header string, rate int, d time.Duration) (p50, p99 time.Duration, okShare float64, err error) {
	u, err := url.Parse(target)
	if err != nil {
		return 0, 0, 0, err
	}
	const conns = 64
	client := &fasthttp.HostClient{Addr: u.Host, MaxConns: conns, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	name, value, hasHeader := strings.Cut(header, ":")

	total := int(float64(rate) * d.Seconds())
	due := make(chan time.Time, conns)
	type result struct {
		latency time.Duration
		ok      bool
	}
	results := make([]result, 0, total)
	var mu sync.Mutex
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI(target)
			if hasHeader {
				req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
			}
			var mine []result
			for at := range due {
				if wait := time.Until(at); wait > 0 {
					time.Sleep(wait)
				}
				err := client.Do(req, resp)
				if err != nil && firstErr.Load() == nil {
					firstErr.Store(&err)
				}
				mine = append(mine, result{time.Since(at), err == nil && resp.StatusCode()/100 == 2})
			}
			mu.Lock()
			results = append(results, mine...)
			mu.Unlock()
		}()
	}
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := 0; i < total; i++ {
		due <- start.Add(time.Duration(i) * interval)
	}
	close(due)
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		fmt.Fprintln(os.Stderr, "first failure:", *e)
	}
	if len(results) == 0 {
		return 0, 0, 0, fmt.Errorf("no request was sent")
	}
	lat := make([]time.Duration, len(results))
	ok := 0
	for i, r := range results {
		lat[i] = r.latency
		if r.ok {
			ok++
		}
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100], float64(ok) / float64(len(lat)), nil
}
