// Package gateway is the data plane: the fasthttp listener, the router (API by URL suffix, then
// operation by method and URL template), the per-request policy.Context, the backend transport
// that forward-request uses, and the atomic swap of compiled configurations on reload. It runs
// whatever pipeline it is given; the policy language itself lives in package policy.
package gateway
