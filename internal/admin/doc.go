// Package admin is the admin listener on net/http: liveness, readiness with the state of every
// key source, Prometheus metrics, and the bearer-token gate in front of the management API. The
// management API itself (Graph-compatible) is another package's http.Handler, mounted here.
package admin
