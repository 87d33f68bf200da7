// Package storetest is the conformance suite every directory.Store backend runs: Run exercises
// each Reader and Writer method, the ErrNotFound/ErrConflict promises, tenant isolation and
// rollback of a failed Update. It holds no backend of its own.
package storetest
