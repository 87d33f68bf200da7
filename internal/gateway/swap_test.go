package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func named(t *testing.T, name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
	t.Cleanup(s.Close)
	return s
}

// Plans swapped again and again under load: every request gets an answer from one of them,
// none fails.
func TestSwapUnderLoad(t *testing.T) {
	a, b := named(t, "a"), named(t, "b")
	srv, gw := startGateway(t, testPlan(t, echoAPI(a.URL)), gatewayOpts{})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	var mu sync.Mutex
	counts := map[string]int{}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(gw + "/echo/x")
				if err != nil {
					errs <- err.Error()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || (string(body) != "a" && string(body) != "b") {
					errs <- resp.Status + " " + string(body)
					return
				}
				mu.Lock()
				counts[string(body)]++
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < 40; i++ {
		backend := a.URL
		if i%2 == 0 {
			backend = b.URL
		}
		srv.Swap(testPlan(t, echoAPI(backend))).Close()
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if counts["a"] == 0 || counts["b"] == 0 {
		t.Errorf("answers %v: both plans should have served", counts)
	}
}

// Shutdown lets a request that is running finish.
func TestShutdownDrains(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	}))
	t.Cleanup(slow.Close)
	srv, gw := startGateway(t, testPlan(t, echoAPI(slow.URL)), gatewayOpts{})
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(gw + "/echo/x")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("shutdown returned while a request was running: %v", err)
	default:
	}
	close(release)
	if g := <-got; g != "finished" {
		t.Errorf("in-flight request got %q", g)
	}
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}
