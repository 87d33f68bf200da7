package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	driver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"portcullis/internal/directory"
)

// FileName is the database file's name inside the data folder.
const FileName = "directory.db"

// busyTimeoutMillis is how long a statement waits for another connection's lock (another
// process on the same file, or a checkpoint) before failing.
const busyTimeoutMillis = 10000

// Store is the SQLite directory.Store. It is safe for concurrent use: reads run on a pool of
// read-only connections and see the last committed state; writes are serialised on one
// connection, each Update in one IMMEDIATE transaction.
type Store struct {
	*reader // reads outside a transaction use the read pool
	read    *sql.DB
	pool    *preparedPool
	write   *sql.DB
	path    string
}

var _ directory.Store = (*Store)(nil)

// OpenDir opens the directory database in a data folder (the configuration's data:), creating
// the folder (owner-only) when it does not exist.
func OpenDir(dataDir string) (*Store, error) {
	if dataDir == "" {
		return nil, errors.New("sqlite: no data folder")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: data folder: %w", err)
	}
	return Open(filepath.Join(dataDir, FileName))
}

// Open opens (creating if needed) the database at path and brings its schema up to date. The
// folder must exist. A database written by a newer Portcullis (a schema version this one does
// not know) is refused rather than guessed at.
func Open(path string) (*Store, error) {
	ctx := context.Background()
	if path == "" {
		return nil, errors.New("sqlite: no database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if fi, err := os.Stat(filepath.Dir(abs)); err != nil {
		return nil, fmt.Errorf("sqlite: data folder: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("sqlite: data folder %s is not a folder", filepath.Dir(abs))
	}
	write, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	// One writer: SQLite serialises writers anyway, and a single connection means an
	// IMMEDIATE transaction never waits on another of ours.
	write.SetMaxOpenConns(1)
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", abs, err)
	}
	// The database file may hold secrets' hashes and signing keys: owner only.
	for _, f := range []string{abs, abs + "-wal", abs + "-shm"} {
		if err := os.Chmod(f, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			write.Close()
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	read, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)*2))
	read.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)*2))
	pool := newPreparedPool(read)
	return &Store{reader: &reader{q: pool}, read: read, pool: pool, write: write, path: abs}, nil
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: a commit is on disk (WAL fsynced) before Update returns, so an acknowledged
	// write survives kill -9 and power loss.
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes both pools. Pending writes have committed by the time Update returned.
func (s *Store) Close() error {
	return errors.Join(s.pool.close(), s.read.Close(), s.write.Close())
}

// Update runs fn in one write transaction; an error from fn (or a panic) rolls it back.
func (s *Store) Update(ctx context.Context, fn func(tx directory.Writer) error) (err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tx.Rollback()
		}
	}()
	if err := fn(&writer{reader: reader{q: tx}}); err != nil {
		return err
	}
	done = true
	if err := tx.Commit(); err != nil {
		tx.Rollback()
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// migrate brings the schema to len(migrations), each step in its own transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	for {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("schema: %w", err)
		}
		var version int
		err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version)
		if errors.Is(err, sql.ErrNoRows) {
			if _, err = tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
				tx.Rollback()
				return fmt.Errorf("schema: %w", err)
			}
		} else if err != nil {
			tx.Rollback()
			return fmt.Errorf("schema: %w", err)
		}
		if version > len(migrations) {
			tx.Rollback()
			return fmt.Errorf("schema version %d is newer than this program knows (%d): use a newer Portcullis", version, len(migrations))
		}
		if version == len(migrations) {
			return tx.Commit()
		}
		if _, err := tx.ExecContext(ctx, migrations[version]); err != nil {
			tx.Rollback()
			return fmt.Errorf("schema migration %d: %w", version+1, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, version+1); err != nil {
			tx.Rollback()
			return fmt.Errorf("schema migration %d: %w", version+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("schema migration %d: %w", version+1, err)
		}
	}
}

// SchemaVersion is the schema version this program writes.
func SchemaVersion() int { return len(migrations) }

// mapErr turns constraint violations into the Store's errors.
func mapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var se *driver.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%s: %w", what, directory.ErrConflict)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%s: tenant %w", what, directory.ErrNotFound)
		}
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
}
