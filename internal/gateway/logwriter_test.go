package gateway

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) state() (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String(), l.writes
}

func TestLogWriter(t *testing.T) {
	var out lockedBuffer
	w := NewLogWriter(&out, 50*time.Millisecond)
	for i := 0; i < 100; i++ {
		w.Write([]byte("line\n"))
	}
	if s, _ := out.state(); s != "" {
		t.Errorf("written before the interval: %d bytes", len(s))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, writes := out.state()
		if len(s) == 500 {
			if writes != 1 {
				t.Errorf("%d writes for 100 lines, want 1", writes)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not flushed: %d bytes", len(s))
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.Write([]byte("last\n"))
	w.Close()
	if s, _ := out.state(); len(s) != 505 {
		t.Errorf("Close did not flush: %d bytes", len(s))
	}
}
