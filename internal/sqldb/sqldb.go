// Package sqldb opens the databases in which services keep their state:
// a SQLite file by default (modernc.org/sqlite, pure Go), or a schema of
// its own in a PostgreSQL database (pgx) when the place is a postgres://
// URL. A store writes its SQL once, with ? placeholders, in the words both
// engines share, and its schema as a list of versioned migrations.
//
// On SQLite, several processes may open one file: WAL mode lets readers
// run beside the writer, a busy timeout makes a writer wait its turn, and
// every transaction takes the write lock when it begins, so two processes
// never deadlock upgrading a read to a write. On PostgreSQL every
// transaction is SERIALIZABLE and runs again when the server aborts it as
// a serialization failure or a deadlock. Either way the replicas of a
// service that share one database see its transactions one after the
// other, which is how they share its state.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite" // the SQLite driver, registered as "sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DB is one service's database.
type DB struct {
	db *sql.DB
	pg bool
	// schema is the service's schema on PostgreSQL: the URL's
	// search_path, or public.
	schema string
	// where names the database in errors (a URL without its password).
	where string
	// rebound caches each query with $n placeholders, on PostgreSQL.
	rebound sync.Map
}

// IsPostgres reports whether where names a PostgreSQL database rather than
// a SQLite file.
func IsPostgres(where string) bool {
	return strings.HasPrefix(where, "postgres://") || strings.HasPrefix(where, "postgresql://")
}

// Open opens the database at where — a SQLite file, created with its
// directory when absent, or a postgres:// URL whose search_path parameter
// names the service's schema, created when absent — and brings it to the
// last of migrations (see Migrate).
func Open(where string, migrations ...string) (*DB, error) {
	db, err := open(where)
	if err != nil {
		return nil, err
	}
	if err := db.migrate(context.Background(), migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", db.where, err)
	}
	return db, nil
}

func open(where string) (*DB, error) {
	if !IsPostgres(where) {
		if err := os.MkdirAll(filepath.Dir(where), 0o755); err != nil {
			return nil, fmt.Errorf("open %s: %w", where, err)
		}
		dsn := "file:" + (&url.URL{Path: where}).EscapedPath() +
			"?_pragma=busy_timeout(" + strconv.Itoa(int(busyTimeout/time.Millisecond)) + ")&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", where, err)
		}
		return &DB{db: db, where: where}, nil
	}
	shown := where
	if u, err := url.Parse(where); err == nil {
		shown = u.Redacted()
	}
	cfg, err := pgx.ParseConfig(where)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", shown, err)
	}
	schema := strings.Trim(strings.TrimSpace(strings.Split(cfg.RuntimeParams["search_path"], ",")[0]), `"`)
	if schema == "" {
		schema = "public"
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	return &DB{db: db, pg: true, schema: schema, where: shown}, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.db.Close() }

// Postgres reports whether the database is PostgreSQL, for the rare query
// the two engines word differently.
func (db *DB) Postgres() bool { return db.pg }

// Querier is what DB and Tx share: statements with ? placeholders.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ExecContext runs a statement outside any transaction.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.db.ExecContext(ctx, db.bind(query), args...)
}

// QueryContext runs a query outside any transaction.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.db.QueryContext(ctx, db.bind(query), args...)
}

// QueryRowContext runs a query of one row outside any transaction.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return db.db.QueryRowContext(ctx, db.bind(query), args...)
}

// Prepare prepares a statement for repeated use outside transactions.
func (db *DB) Prepare(query string) (*sql.Stmt, error) { return db.db.Prepare(db.bind(query)) }

// Tx is a transaction of a DB.
type Tx struct {
	tx *sql.Tx
	db *DB
}

// ExecContext runs a statement in the transaction.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, tx.db.bind(query), args...)
}

// QueryContext runs a query in the transaction.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, tx.db.bind(query), args...)
}

// QueryRowContext runs a query of one row in the transaction.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, tx.db.bind(query), args...)
}

// maxAttempts bounds how often Tx runs a transaction that PostgreSQL keeps
// aborting as a serialization failure.
const maxAttempts = 30

// busyTimeout is how long a SQLite transaction waits for another
// process's write lock.
const busyTimeout = 5 * time.Second

// Tx runs fn in a transaction, committed when fn returns nil and rolled
// back otherwise. On PostgreSQL a transaction the server aborts as a
// serialization failure or a deadlock runs again, from the start: fn must
// only change the database and what it returns. So does a transaction that
// SQLite refuses as busy without waiting out its busy timeout, which it
// does while another process closing the file's last connection cleans up
// its write-ahead log. Within a transaction of db that ctx carries
// (Within), fn runs in that one instead, as a savepoint:
// what fn did is undone when it fails, and committed with the rest of the
// enclosing transaction when it succeeds.
func (db *DB) Tx(ctx context.Context, fn func(*Tx) error) error {
	if tx, ok := ctx.Value(txKey{db}).(*Tx); ok {
		return tx.savepoint(ctx, fn)
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := db.once(ctx, fn)
		if !db.retryable(err, start) || attempt == maxAttempts {
			return err
		}
		// Back off a little, at random, so that the transactions that
		// collided do not collide again.
		wait := time.Duration(rand.Int64N(int64(min(attempt, 10)) * int64(time.Millisecond)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func (db *DB) once(ctx context.Context, fn func(*Tx) error) error {
	var opts *sql.TxOptions
	if db.pg {
		opts = &sql.TxOptions{Isolation: sql.LevelSerializable}
	}
	tx, err := db.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(&Tx{tx: tx, db: db}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// retryable reports whether the transaction that failed with err, first
// begun at start, may succeed when it runs again: PostgreSQL's
// serialization failure or deadlock, or SQLite's busy before its busy
// timeout has passed.
func (db *DB) retryable(err error, start time.Time) bool {
	if err == nil {
		return false
	}
	if db.pg {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
	}
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY && time.Since(start) < busyTimeout
}

func (tx *Tx) savepoint(ctx context.Context, fn func(*Tx) error) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT nested`); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(tx); err != nil {
		if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT nested`); rerr != nil {
			return fmt.Errorf("%w (and rolling it back: %v)", err, rerr)
		}
		_, _ = tx.ExecContext(ctx, `RELEASE SAVEPOINT nested`)
		return err
	}
	if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT nested`); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

type txKey struct{ db *DB }

// Within returns ctx carrying tx, a transaction of db: a store's code run
// with it (Tx, Q) joins tx. That is how an event's handler makes the
// store's change, the events the change publishes and the mark that the
// event was taken one commit.
func (db *DB) Within(ctx context.Context, tx *Tx) context.Context {
	return context.WithValue(ctx, txKey{db}, tx)
}

// Q returns the transaction of db that ctx carries (Within), or db.
func (db *DB) Q(ctx context.Context) Querier {
	if tx, ok := ctx.Value(txKey{db}).(*Tx); ok {
		return tx
	}
	return db
}

// bind words query's ? placeholders as the engine wants them: as they are
// for SQLite, $1, $2, … for PostgreSQL. A ? inside a quoted string or
// identifier is left alone.
func (db *DB) bind(query string) string {
	if !db.pg {
		return query
	}
	if q, ok := db.rebound.Load(query); ok {
		return q.(string)
	}
	q := Rebind(query)
	db.rebound.Store(query, q)
	return q
}

// Rebind returns query with its ? placeholders numbered $1, $2, … as
// PostgreSQL wants them; a ? inside '…' or "…" stays.
func Rebind(query string) string {
	var (
		b     strings.Builder
		n     int
		quote byte
	)
	b.Grow(len(query) + 8)
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Place is where the service's database called name lives: in the
// PostgreSQL database at the URL database, a schema of that name (its -
// written _); or, when database is "", the SQLite file name.db in dir.
func Place(dir, database, name string) string {
	if database == "" {
		return filepath.Join(dir, name+".db")
	}
	u, err := url.Parse(database)
	if err != nil {
		return database // Open reports it
	}
	q := u.Query()
	q.Set("search_path", strings.ReplaceAll(name, "-", "_"))
	u.RawQuery = q.Encode()
	return u.String()
}
