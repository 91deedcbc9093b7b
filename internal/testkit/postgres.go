package testkit

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/sqldb"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the driver, registered as "pgx"
)

// PostgresCluster is a throw-away PostgreSQL cluster (Debian's postgresql)
// on a free loopback port: initdb'd into a temporary directory, run as an
// unprivileged user when the tests run as root (PostgreSQL refuses root),
// and removed when the test ends.
type PostgresCluster struct {
	addr  string
	count atomic.Int32
}

// Postgres starts a cluster for the test.
func Postgres(t testing.TB) *PostgresCluster {
	t.Helper()
	initdb := postgresTool(t, "initdb")
	dir, err := os.MkdirTemp("", "atrium-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var owner *user.User
	if os.Geteuid() == 0 {
		owner = unprivileged(t)
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(owner.Uid)
		gid, _ := strconv.Atoi(owner.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	cmd := exec.Command(initdb, "-D", data, "-U", "atrium", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	runAs(cmd, owner)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	c := &PostgresCluster{addr: FreeAddr(t)}
	_, port, _ := strings.Cut(c.addr, ":")
	cmd = exec.Command(filepath.Join(filepath.Dir(initdb), "postgres"), "-D", data, "-p", port, "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "log_min_messages=fatal")
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stderr = log
	dieWithTest(cmd)
	runAs(cmd, owner)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A fast shutdown, so that the backends go with the postmaster.
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	db, err := sql.Open("pgx", c.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := db.PingContext(context.Background())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log.Name())
			t.Fatalf("postgres did not answer within 20 s: %v\n%s", err, out)
		}
	}
	return c
}

// Database creates a fresh database in the cluster and returns its URL.
func (c *PostgresCluster) Database(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("db%d", c.count.Add(1))
	db, err := sql.Open("pgx", c.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE DATABASE ` + pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return c.url(name)
}

func (c *PostgresCluster) url(db string) string {
	return "postgres://atrium@" + c.addr + "/" + db + "?sslmode=disable"
}

// postgresTool finds a PostgreSQL server program: Debian keeps them in
// /usr/lib/postgresql/VERSION/bin, off the PATH; the newest is taken.
func postgresTool(t testing.TB, name string) string {
	t.Helper()
	found, _ := filepath.Glob(filepath.Join("/usr/lib/postgresql", "*", "bin", name))
	slices.SortFunc(found, func(a, b string) int { return version(b) - version(a) })
	if len(found) > 0 {
		return found[0]
	}
	return Tool(t, name)
}

// version is the major version in a path /usr/lib/postgresql/VERSION/bin/x.
func version(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}

// unprivileged is the user a cluster runs as under root: postgres, which
// Debian's package makes, or nobody.
func unprivileged(t testing.TB) *user.User {
	t.Helper()
	for _, name := range []string{"postgres", "nobody"} {
		if u, err := user.Lookup(name); err == nil {
			return u
		}
	}
	t.Fatal("running as root, and no user postgres or nobody to run PostgreSQL as")
	return nil
}

// OnEveryEngine runs test as two subtests, sqlite and postgres, each given
// where the database of a service called name lives (sqldb.Place): a file
// in a temporary directory, or a schema of a fresh database in a cluster
// of the subtest's own.
func OnEveryEngine(t *testing.T, test func(t *testing.T, place func(name string) string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		test(t, func(name string) string { return sqldb.Place(dir, "", name) })
	})
	t.Run("postgres", func(t *testing.T) {
		url := Postgres(t).Database(t)
		test(t, func(name string) string { return sqldb.Place("", url, name) })
	})
}
