// Package sqlite is the embedded directory.Store: one SQLite file (pure Go driver, no cgo) in
// write-ahead-log mode with synchronous=FULL, so an acknowledged write survives a crash. It owns
// the schema and its migrations; it knows nothing of HTTP, OAuth or how the directory is used,
// and applies no domain rules beyond the uniqueness the Store interface promises.
package sqlite
