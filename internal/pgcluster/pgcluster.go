// Package pgcluster runs a throw-away PostgreSQL cluster on a loopback
// port — initdb'd into a directory of its own, run as an unprivileged user
// when this process is root (PostgreSQL refuses root), removed when it
// stops — from Debian's postgresql package (its programs live off the PATH,
// in /usr/lib/postgresql/VERSION/bin) or the PATH. The tests use it, and
// atrium-compare to measure the services on PostgreSQL beside SQLite.
package pgcluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/atrium-bff/atrium/internal/loopback"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the driver, registered as "pgx"
)

// ErrNotInstalled reports that no initdb was found.
var ErrNotInstalled = errors.New("PostgreSQL is not installed (Debian: apt-get install postgresql)")

// Cluster is a running cluster; its superuser is atrium, with no password
// (trust, on loopback only).
type Cluster struct {
	addr  string
	dir   string
	cmd   *exec.Cmd
	done  chan struct{}
	count atomic.Int32
}

// Find returns the path of initdb: the newest of Debian's, or the PATH's.
func Find() (string, error) {
	found, _ := filepath.Glob(filepath.Join("/usr/lib/postgresql", "*", "bin", "initdb"))
	slices.SortFunc(found, func(a, b string) int { return version(b) - version(a) })
	if len(found) > 0 {
		return found[0], nil
	}
	if path, err := exec.LookPath("initdb"); err == nil {
		return path, nil
	}
	return "", ErrNotInstalled
}

// version is the major version in a path /usr/lib/postgresql/VERSION/bin/x.
func version(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}

// Start initdb's a cluster in a new temporary directory and starts it on a
// free loopback port; it dies with this process.
func Start(ctx context.Context) (c *Cluster, err error) {
	initdb, err := Find()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "atrium-pg-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	owner, err := runAsWho(dir)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	cmd := exec.CommandContext(ctx, initdb, "-D", data, "-U", "atrium", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	runAs(cmd, owner)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	addr, err := loopback.FreeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	// Durability is off: the cluster is thrown away.
	cmd = exec.Command(filepath.Join(filepath.Dir(initdb), "postgres"), "-D", data, "-p", port, "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "log_min_messages=fatal")
	cmd.Stdout, cmd.Stderr = log, log
	dieWithParent(cmd)
	runAs(cmd, owner)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	c = &Cluster{addr: addr, dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.done) }()
	if err := c.await(ctx); err != nil {
		c.Stop()
		out, _ := os.ReadFile(log.Name())
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	return c, nil
}

// await waits until the cluster answers, for 20 s at most.
func (c *Cluster) await(ctx context.Context) error {
	db, err := sql.Open("pgx", c.URL("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := db.PingContext(ctx)
		switch {
		case err == nil:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("postgres did not answer within 20 s: %w", err)
		}
		select {
		case <-c.done:
			return errors.New("postgres exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Database creates a fresh database and returns its URL.
func (c *Cluster) Database(ctx context.Context) (string, error) {
	name := fmt.Sprintf("db%d", c.count.Add(1))
	db, err := sql.Open("pgx", c.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	return c.URL(name), nil
}

// URL is the URL of database name in the cluster.
func (c *Cluster) URL(name string) string {
	return "postgres://atrium@" + c.addr + "/" + name + "?sslmode=disable"
}

// Stop stops the cluster (a fast shutdown, so that its backends go with
// it; killed after 10 s) and removes its files.
func (c *Cluster) Stop() {
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	os.RemoveAll(c.dir)
}

// runAsWho is the user the cluster runs as, nil for this process's own:
// under root, postgres (which Debian's package makes) or nobody, who is
// given dir.
func runAsWho(dir string) (*user.User, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		return u, os.Chown(dir, uid, gid)
	}
	return nil, errors.New("running as root, and no user postgres or nobody to run PostgreSQL as")
}
