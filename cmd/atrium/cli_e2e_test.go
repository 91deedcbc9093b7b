//go:build linux

package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/testkit"
)

// TestTheCommandLineSaysWhatIsWrong: a command line atrium cannot run
// exits with 2 and says why and where to look, without starting anything;
// --version prints the version.
func TestTheCommandLineSaysWhatIsWrong(t *testing.T) {
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(binary, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), stdout.String(), stderr.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, stdout.String(), stderr.String()
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"nosuch"}, `no command "nosuch"`},
		{[]string{"monolith", "stray"}, "monolith takes no arguments"},
		{[]string{"up", "--addr", "127.0.0.1:0", "stray"}, "up takes no arguments"},
		{[]string{"monolith", "--nope"}, "-nope"},
		{[]string{"monolith", "--read-timeout", "2"}, "as 2s, 500ms or 1m"},
		{[]string{"service"}, "name one service"},
		{[]string{"monolith", "--cors-origins", "localhost:3000"}, "is not an origin"},
		{[]string{"monolith", "--log-format", "yaml"}, "want auto, json, text"},
		{[]string{"gateway", "--log-level", "loud"}, "want debug, info, warn, error"},
		{[]string{"gateway", "--registry", "zookeeper://127.0.0.1:2181"}, "want embedded, etcd://host:port or consul://host:port"},
		{[]string{"gateway", "--registry", "etcd://"}, "want etcd://host:port"},
	} {
		code, _, stderr := run(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "atrium -h") {
			t.Errorf("atrium %s: exit %d, %q; want 2, saying %q and where to look", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
	if code, stdout, _ := run("--version"); code != 0 || !strings.HasPrefix(stdout, "atrium ") || !strings.Contains(stdout, "go1.") {
		t.Errorf("atrium --version: exit %d, %q", code, stdout)
	}
}

// TestLogsForAPersonOrAMachine: --log-format text writes key=value lines a
// person reads; without it, a process whose standard error is not a
// terminal (a pipe, as here) writes JSON, one object a line.
func TestLogsForAPersonOrAMachine(t *testing.T) {
	text := start(t, "monolith", "--addr", testkit.FreeAddr(t), "--log-format", "text")
	text.do(t, "GET", "/api/v1/products/p001/page", "")
	auto := start(t, "monolith")
	auto.do(t, "GET", "/api/v1/products/p001/page", "")
	waitFor(t, "the access lines", func() bool {
		return strings.Contains(text.output(), "msg=access") && strings.Contains(auto.output(), `"msg":"access"`)
	})
	for _, line := range strings.Split(strings.TrimSpace(text.output()), "\n") {
		if !strings.HasPrefix(line, "time=") || !strings.Contains(line, " level=") {
			t.Errorf("--log-format text wrote %q", line)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(auto.output()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("to a pipe, by default, %q: not JSON", line)
		}
	}
}

// TestUpSaysWhereEverythingIs: up with no admin token makes one up and
// keeps it where its user can read it (0600 in the data directory), and
// once ready says where the API, the docs and the metrics are, and where
// the token is.
func TestUpSaysWhereEverythingIs(t *testing.T) {
	dir := t.TempDir()
	p := launch(t, []string{"ATRIUM_ADMIN_TOKEN="}, "up", "--data-dir", dir)
	path := filepath.Join(dir, "admin-token")
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the generated admin token's file: %v, %v; want it, 0600", info, err)
	}
	token, _ := os.ReadFile(path)
	if r := p.do(t, "GET", "/admin/sagas", "", "Authorization", "Bearer "+strings.TrimSpace(string(token))); r.status != 200 {
		t.Errorf("the admin API with the token from %s: %d %s", path, r.status, r.body)
	}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(p.output(), `"msg":"ready"`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("up never said it was ready")
		}
	}
	for _, want := range []string{p.base + "/docs", p.base + "/metrics", p.base + "/api/v1", path} {
		if !strings.Contains(p.output(), want) {
			t.Errorf("the ready line lacks %q", want)
		}
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}
