package testkit

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/atrium-bff/atrium/internal/pgcluster"
	"github.com/atrium-bff/atrium/internal/sqldb"
)

// PostgresCluster is a throw-away PostgreSQL cluster (pgcluster) of one
// test.
type PostgresCluster struct{ c *pgcluster.Cluster }

// Postgres starts a cluster for the test, stopped and removed when it
// ends; skipped or failed as Tool is when PostgreSQL is not installed.
func Postgres(t testing.TB) *PostgresCluster {
	t.Helper()
	c, err := pgcluster.Start(context.Background())
	if errors.Is(err, pgcluster.ErrNotInstalled) && os.Getenv("ATRIUM_REQUIRE_TOOLS") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return &PostgresCluster{c}
}

// Database creates a fresh database in the cluster and returns its URL.
func (p *PostgresCluster) Database(t testing.TB) string {
	t.Helper()
	url, err := p.c.Database(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// OnEveryDatabase runs test as two subtests: sqlite, given database "" (the
// state in SQLite files), and postgres, given the URL of a fresh database
// in a cluster of the subtest's own — what --database would be.
func OnEveryDatabase(t *testing.T, test func(t *testing.T, database string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { test(t, "") })
	t.Run("postgres", func(t *testing.T) { test(t, Postgres(t).Database(t)) })
}

// OnEveryEngine is OnEveryDatabase for a test of stores: place gives where
// the database of a service called name lives (sqldb.Place), a file in a
// temporary directory or a schema of the fresh database.
func OnEveryEngine(t *testing.T, test func(t *testing.T, place func(name string) string)) {
	t.Helper()
	OnEveryDatabase(t, func(t *testing.T, database string) {
		dir := t.TempDir()
		test(t, func(name string) string { return sqldb.Place(dir, database, name) })
	})
}
