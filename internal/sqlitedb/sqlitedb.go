// Package sqlitedb opens the SQLite files in which services keep their
// state (modernc.org/sqlite, pure Go). Several processes may open one file:
// WAL mode lets readers run beside the writer, a busy timeout makes a
// writer wait its turn, and every transaction takes the write lock when it
// begins, so two processes never deadlock upgrading a read to a write.
// That is how the replicas of a service share its state.
package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // the driver, registered as "sqlite"
)

// Open opens (creating when absent, with its directory) the database at
// path and applies schema, which must be idempotent (CREATE ... IF NOT
// EXISTS).
func Open(path, schema string) (*sql.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return db, nil
}

// Tx runs fn in a transaction, committed when fn returns nil and rolled
// back otherwise. Within a transaction of db that ctx carries (Within), fn
// runs in that one instead, as a savepoint: what fn did is undone when it
// fails, and committed with the rest of the enclosing transaction when it
// succeeds.
func Tx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	if tx, ok := ctx.Value(txKey{db}).(*sql.Tx); ok {
		return savepoint(ctx, tx, fn)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func savepoint(ctx context.Context, tx *sql.Tx, fn func(*sql.Tx) error) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT nested`); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(tx); err != nil {
		if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO nested`); rerr != nil {
			return fmt.Errorf("%w (and rolling it back: %v)", err, rerr)
		}
		_, _ = tx.ExecContext(ctx, `RELEASE nested`)
		return err
	}
	if _, err := tx.ExecContext(ctx, `RELEASE nested`); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

type txKey struct{ db *sql.DB }

// Within returns ctx carrying tx, a transaction of db: a store's code run
// with it (Tx, Q) joins tx. That is how an event's handler makes the
// store's change, the events the change publishes and the mark that the
// event was taken one commit.
func Within(ctx context.Context, db *sql.DB, tx *sql.Tx) context.Context {
	return context.WithValue(ctx, txKey{db}, tx)
}

// Querier is what *sql.DB and *sql.Tx share.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Q returns the transaction of db that ctx carries (Within), or db.
func Q(ctx context.Context, db *sql.DB) Querier {
	if tx, ok := ctx.Value(txKey{db}).(*sql.Tx); ok {
		return tx
	}
	return db
}
