package sqldb_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/atrium-bff/atrium/internal/sqldb"
	"github.com/atrium-bff/atrium/internal/testkit"
)

func open(t *testing.T, where string, migrations ...string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(where, migrations...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var migrations = []string{
	`CREATE TABLE things (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, n INTEGER NOT NULL DEFAULT 0, data BLOB)`,
	`ALTER TABLE things ADD COLUMN note TEXT NOT NULL DEFAULT ''`,
}

func TestMigrationsRunOnceInOrder(t *testing.T) {
	testkit.OnEveryEngine(t, func(t *testing.T, place func(string) string) {
		ctx := context.Background()
		// Four processes open a new database at once: each version is
		// applied once (a second CREATE TABLE without IF NOT EXISTS fails).
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				db, err := sqldb.Open(place("svc"), migrations[:1]...)
				if err == nil {
					db.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		db := open(t, place("svc"), migrations...)
		if _, err := db.ExecContext(ctx, `INSERT INTO things (name, note, data) VALUES (?, ?, ?)`, "a?'b", "version 2", []byte{0, 1}); err != nil {
			t.Fatal(err)
		}
		var (
			name, note string
			seq        int64
			data       []byte
		)
		if err := db.QueryRowContext(ctx, `SELECT seq, name, note, data FROM things WHERE name = ? AND note != '?'`, "a?'b").Scan(&seq, &name, &note, &data); err != nil {
			t.Fatal(err)
		}
		if seq != 1 || note != "version 2" || len(data) != 2 {
			t.Errorf("row = %d %q %q %v", seq, name, note, data)
		}
		var versions []int
		rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v int
			rows.Scan(&v)
			versions = append(versions, v)
		}
		rows.Close()
		if len(versions) != 2 || versions[0] != 1 || versions[1] != 2 {
			t.Errorf("versions applied = %v, want [1 2]", versions)
		}
		if _, err := sqldb.Open(place("svc"), migrations[:1]...); err == nil || !strings.Contains(err.Error(), "newer atrium") {
			t.Errorf("an older atrium opened a database of version 2: err = %v", err)
		}
		// Another service's database is apart from this one.
		other := open(t, place("other"), `CREATE TABLE things (seq INTEGER PRIMARY KEY AUTOINCREMENT)`)
		var n int
		if err := other.QueryRowContext(ctx, `SELECT COUNT(*) FROM things`).Scan(&n); err != nil || n != 0 {
			t.Errorf("another service's table holds %d rows (%v), want 0", n, err)
		}
	})
}

// Two connections add one to a counter many times at once, each reading
// it and writing it back in a transaction: no addition is lost, which on
// PostgreSQL takes SERIALIZABLE and running a failed transaction again.
func TestTransactionsAreSerial(t *testing.T) {
	testkit.OnEveryEngine(t, func(t *testing.T, place func(string) string) {
		ctx := context.Background()
		a := open(t, place("svc"), migrations...)
		b := open(t, place("svc"), migrations...)
		if _, err := a.ExecContext(ctx, `INSERT INTO things (name) VALUES ('counter')`); err != nil {
			t.Fatal(err)
		}
		const n = 200
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			db := []*sqldb.DB{a, b}[i%2]
			wg.Go(func() {
				errs[i] = db.Tx(ctx, func(tx *sqldb.Tx) error {
					var v int
					if err := tx.QueryRowContext(ctx, `SELECT n FROM things WHERE name = ?`, "counter").Scan(&v); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `UPDATE things SET n = ? WHERE name = ?`, v+1, "counter")
					return err
				})
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		var v int
		if err := a.QueryRowContext(ctx, `SELECT n FROM things WHERE name = 'counter'`).Scan(&v); err != nil || v != n {
			t.Errorf("counter = %d (%v), want %d", v, err, n)
		}
	})
}

// A transaction that ctx carries takes a nested one as a savepoint: its
// failure undoes only what it did.
func TestNestedTransactionsAreSavepoints(t *testing.T) {
	testkit.OnEveryEngine(t, func(t *testing.T, place func(string) string) {
		ctx := context.Background()
		db := open(t, place("svc"), migrations...)
		boom := errors.New("boom")
		err := db.Tx(ctx, func(tx *sqldb.Tx) error {
			inner := db.Within(ctx, tx)
			if _, err := db.Q(inner).ExecContext(inner, `INSERT INTO things (name) VALUES ('kept')`); err != nil {
				return err
			}
			if err := db.Tx(inner, func(tx *sqldb.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO things (name) VALUES ('undone')`); err != nil {
					return err
				}
				return boom
			}); !errors.Is(err, boom) {
				t.Errorf("nested err = %v, want boom", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		rows, _ := db.QueryContext(ctx, `SELECT name FROM things ORDER BY seq`)
		for rows.Next() {
			var s string
			rows.Scan(&s)
			names = append(names, s)
		}
		rows.Close()
		if strings.Join(names, ",") != "kept" {
			t.Errorf("rows = %v, want [kept]", names)
		}
	})
}

func TestRebind(t *testing.T) {
	for in, want := range map[string]string{
		`SELECT ? , ?`:                        `SELECT $1 , $2`,
		`WHERE a = '?' AND b = ?`:             `WHERE a = '?' AND b = $1`,
		`WHERE "we?ird" = ? AND c != ''`:      `WHERE "we?ird" = $1 AND c != ''`,
		`VALUES (?, 'it''s ?', ?)`:            `VALUES ($1, 'it''s ?', $2)`,
		`SELECT json_array_elements(?::json)`: `SELECT json_array_elements($1::json)`,
	} {
		if got := sqldb.Rebind(in); got != want {
			t.Errorf("Rebind(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPostgresWording(t *testing.T) {
	got := sqldb.ForPostgres(migrations[0])
	want := `CREATE TABLE things (seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name TEXT NOT NULL UNIQUE, n BIGINT NOT NULL DEFAULT 0, data BYTEA)`
	if got != want {
		t.Errorf("ForPostgres(...) =\n%s\nwant\n%s", got, want)
	}
}
