package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"

	"portcullis/internal/config"
	"portcullis/internal/gateway"
	"portcullis/internal/policies"
)

// policyState is what policies keep between requests and across reloads: rate-limit and quota
// counters, concurrency counts, the cache, the gateway's managed-identity tokens and the
// log-to-eventhub sinks. A reload that recompiled the policies must not reset a quota.
type policyState struct {
	once        sync.Once
	counters    *policies.MemoryCounters
	concurrency *policies.Concurrency
	cache       *policies.MemoryCache

	mu         sync.Mutex
	identity   *policies.ManagedIdentityTokens
	identityOf string // the settings identity was made with
	sinks      map[string]*eventSink
}

// eventSink is a log-to-eventhub file, opened once and shared by every configuration that
// names it.
type eventSink struct {
	log  *policies.EventLog
	file *os.File // nil for standard output
}

// policyDeps builds the services the policies of cfg need, reusing the state of earlier
// configurations.
func (s *services) policyDeps(cfg *config.Config, kc *keyCaches, stdout io.Writer) (policies.Deps, error) {
	g := cfg.Gateway
	st := &s.policies
	st.once.Do(func() {
		st.counters = policies.NewMemoryCounters()
		st.concurrency = policies.NewConcurrency()
		st.cache = policies.NewMemoryCache()
		st.sinks = map[string]*eventSink{}
	})
	tc, err := gateway.ClientTLS(g.Trust)
	if err != nil {
		return policies.Deps{}, err
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}

	loggers := map[string]*policies.EventLog{}
	for id, l := range g.Loggers {
		sink, err := st.sink(l, stdout)
		if err != nil {
			return policies.Deps{}, fmt.Errorf("gateway.loggers.%s: %w", id, err)
		}
		loggers[id] = sink.log
	}

	backends := make(map[string]string, len(g.Backends))
	for id, b := range g.Backends {
		backends[id] = b.URL
	}
	// trace's messages go to the log, where APIM would send them to its tracing sinks.
	traceLog := s.log.With("log", "trace")
	trace := func(e policies.TraceEvent) {
		attrs := []any{"request_id", e.RequestID, "source", e.Source, "severity", e.Severity, "message", e.Message}
		for _, m := range e.Metadata {
			attrs = append(attrs, "metadata."+m.Name, m.Value)
		}
		traceLog.Info("policy trace", attrs...)
	}

	return policies.Deps{
		Backends: backends,
		Trace:    policies.TraceDeps{Sink: trace},
		ValidateJWT: policies.ValidateJWTDeps{
			Keys:              kc.keys,
			Tokens:            kc.tokens,
			Logger:            s.log,
			NoWWWAuthenticate: g.WWWAuthenticate != nil && !*g.WWWAuthenticate,
		},
		RateLimit:       policies.RateLimitDeps{Counters: st.counters, Concurrency: st.concurrency},
		Cache:           policies.CacheDeps{Cache: st.cache},
		SendRequest:     policies.SendRequestDeps{Client: client},
		ManagedIdentity: policies.ManagedIdentityDeps{Tokens: st.managedIdentity(g, client)},
		Metrics:         policies.MetricsDeps{Registerer: s.metrics.Registry},
		EventHub:        policies.EventHubDeps{Loggers: loggers},
	}, nil
}

// managedIdentity returns the token source for gateway.managed-identity, kept while its
// settings stay the same so that cached tokens survive a reload.
func (st *policyState) managedIdentity(g *config.Gateway, client *http.Client) *policies.ManagedIdentityTokens {
	mi := g.ManagedIdentity
	if mi == nil {
		return nil
	}
	settings := fmt.Sprint(*mi, g.AuthorityAliases, g.Trust)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.identity != nil && st.identityOf == settings {
		return st.identity
	}
	authority := mi.Authority
	if authority == "" {
		authority = policies.DefaultAzureADAuthority
	}
	url := policies.TokenURL(authority, mi.TenantID)
	t := &policies.ManagedIdentityTokens{Aliases: g.AuthorityAliases, Client: client}
	if mi.ClientID != "" {
		t.System = &policies.ManagedIdentity{TokenURL: url, ClientID: mi.ClientID, ClientSecret: mi.ClientSecret}
	}
	for _, u := range mi.UserAssigned {
		t.UserAssigned = append(t.UserAssigned, policies.ManagedIdentity{TokenURL: url, ClientID: u.ClientID, ClientSecret: u.ClientSecret})
	}
	st.identity, st.identityOf = t, settings
	return t
}

// sink opens (once) the file or standard output a logger writes to.
func (st *policyState) sink(l config.Logger, stdout io.Writer) (*eventSink, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	key := l.File
	if l.Stdout {
		key = "-"
	}
	if s, ok := st.sinks[key]; ok {
		return s, nil
	}
	s := &eventSink{}
	if l.Stdout {
		s.log = policies.NewEventLog(stdout)
	} else {
		f, err := os.OpenFile(l.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		s.file, s.log = f, policies.NewEventLog(f)
	}
	st.sinks[key] = s
	return s, nil
}

// close closes the log-to-eventhub files at shutdown.
func (st *policyState) close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, s := range st.sinks {
		if s.file != nil {
			_ = s.file.Close()
		}
	}
}
