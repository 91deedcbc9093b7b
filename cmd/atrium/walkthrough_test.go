//go:build linux

package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// step is one executable part of the walkthrough: a directive to start a
// server, or a shell block and what its output must show.
type step struct {
	line   int
	run    []string // start atrium with these arguments
	fresh  bool     // after deleting the data directory, as the text says to
	script string
	expect []string
}

var directive = regexp.MustCompile(`^<!-- (run|expect): (.*) -->$`)

func parseWalkthrough(t *testing.T, path string) []step {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []step
	var block []string
	lastBlock := "" // the last shell block, which a run directive may follow
	inBlock := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case line == "```sh":
			inBlock, block = true, nil
		case inBlock && line == "```":
			inBlock = false
			script := strings.Join(block, "\n")
			lastBlock = script
			if strings.Contains(script, "curl ") {
				steps = append(steps, step{line: n, script: script})
			}
		case inBlock:
			block = append(block, line)
		default:
			m := directive.FindStringSubmatch(line)
			switch {
			case m == nil:
			case m[1] == "run":
				steps = append(steps, step{line: n, run: strings.Fields(m[2]), fresh: strings.Contains(lastBlock, "rm -rf data")})
			case len(steps) == 0 || steps[len(steps)-1].script == "":
				t.Fatalf("walkthrough line %d: an expectation that follows no command", n)
			default:
				steps[len(steps)-1].expect = strings.Fields(m[2])
			}
		}
	}
	return steps
}

// output is what a step's commands printed: the statuses curl reported,
// the headers (when asked for with -i) and body of the last response, and
// the other lines.
type output struct {
	status int
	header map[string]string
	body   string
	lines  []string
}

const statusMark = "__status__ "

func parseOutput(raw string) output {
	out := output{header: map[string]string{}}
	var current []string
	for _, l := range strings.Split(raw, "\n") {
		if s, ok := strings.CutPrefix(l, statusMark); ok {
			out.status, _ = strconv.Atoi(strings.TrimSpace(s))
			out.body = strings.Join(current, "\n")
			current = nil
			continue
		}
		current = append(current, l)
		if strings.TrimSpace(l) != "" {
			out.lines = append(out.lines, strings.TrimSpace(l))
		}
	}
	if strings.HasPrefix(out.body, "HTTP/") { // curl -i: headers, a blank line, the body
		head, body, _ := strings.Cut(strings.ReplaceAll(out.body, "\r\n", "\n"), "\n\n")
		out.body = body
		for _, h := range strings.Split(head, "\n")[1:] {
			k, v, _ := strings.Cut(h, ":")
			out.header[strings.ToLower(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// lookup follows a dotted path ("items.0.id", "." for the root) into v.
func lookup(v any, path string) (any, bool) {
	if path == "." {
		return v, true
	}
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func check(t *testing.T, st step, out output) {
	t.Helper()
	var doc any
	jsonErr := json.Unmarshal([]byte(out.body), &doc)
	for _, e := range st.expect {
		kind, arg, _ := strings.Cut(e, ":")
		switch {
		case strings.HasPrefix(e, "status="):
			if want := strings.TrimPrefix(e, "status="); strconv.Itoa(out.status) != want {
				t.Errorf("line %d: status %d, the text says %s\n%s", st.line, out.status, want, out.body)
			}
		case strings.HasPrefix(e, "distinct="):
			seen := map[string]bool{}
			for _, l := range out.lines {
				seen[strings.ToLower(l)] = true
			}
			if want, _ := strconv.Atoi(strings.TrimPrefix(e, "distinct=")); len(seen) != want {
				t.Errorf("line %d: %d distinct lines %v, the text says %d", st.line, len(seen), out.lines, want)
			}
		case kind == "header":
			name, want, _ := strings.Cut(arg, "~")
			if got := out.header[strings.ToLower(name)]; !strings.Contains(got, want) {
				t.Errorf("line %d: header %s is %q, the text says it has %q", st.line, name, got, want)
			}
		case strings.HasPrefix(e, "body~"): // the body has the text (which has no spaces)
			if want := strings.TrimPrefix(e, "body~"); !strings.Contains(out.body, want) {
				t.Errorf("line %d: the body lacks %q: %.500s", st.line, want, out.body)
			}
		case kind == "json" || kind == "len":
			if jsonErr != nil {
				t.Errorf("line %d: the body is not JSON (%v): %.300s", st.line, jsonErr, out.body)
				continue
			}
			path, want, hasWant := strings.Cut(arg, "=")
			got, ok := lookup(doc, path)
			switch {
			case !ok:
				t.Errorf("line %d: no %s in %.300s", st.line, path, out.body)
			case kind == "len": // of an array, or of an object's members
				n := -1
				switch x := got.(type) {
				case []any:
					n = len(x)
				case map[string]any:
					n = len(x)
				}
				if strconv.Itoa(n) != want {
					t.Errorf("line %d: %s has %v, the text says %s entries", st.line, path, got, want)
				}
			case !hasWant && got == nil:
				t.Errorf("line %d: %s is null", st.line, path)
			case hasWant && fmt.Sprint(jsonValue(got)) != want:
				t.Errorf("line %d: %s is %v, the text says %s", st.line, path, jsonValue(got), want)
			}
		default:
			t.Fatalf("line %d: unknown expectation %q", st.line, e)
		}
	}
}

func jsonValue(v any) any {
	if v == nil {
		return "null"
	}
	return v
}

// TestWalkthrough runs docs/walkthrough.md twice: every command, in order,
// each checked against what the text says it shows. Its servers share one
// data directory, as make run's share ./data, which is deleted only where
// the text says to: so the second walk gives the documented answers too.
func TestWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (make test installs it)")
	}
	steps := parseWalkthrough(t, "../../docs/walkthrough.md")
	if len(steps) < 15 {
		t.Fatalf("found %d steps in the walkthrough", len(steps))
	}
	data := t.TempDir()
	var p *proc
	for walk := range 2 {
		for _, st := range steps {
			if st.run != nil {
				if p != nil {
					p.stop(t)
				}
				if st.fresh {
					if err := os.RemoveAll(data); err != nil {
						t.Fatal(err)
					}
				}
				p = startIn(t, data, st.run...)
				continue
			}
			if !walkStep(t, p, st) {
				t.Fatalf("walk %d stopped at line %d", walk+1, st.line)
			}
		}
	}
}

// walkStep runs one command of the walkthrough against p and checks what
// it shows; false if it could not run.
func walkStep(t *testing.T, p *proc, st step) bool {
	t.Helper()
	if p == nil {
		t.Fatalf("line %d: a command before any server is started", st.line)
	}
	if len(st.expect) == 0 {
		t.Fatalf("line %d: a command with no expectation", st.line)
	}
	script := strings.ReplaceAll(st.script, "localhost:8080", strings.TrimPrefix(p.base, "http://"))
	// Every curl reports its status after its output.
	script = "curl() { command curl -w '\\n" + statusMark + "%{http_code}\\n' \"$@\"; }\n" + script
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "ATRIUM_ADMIN_TOKEN="+adminToken)
	raw, err := cmd.Output()
	if err != nil {
		t.Errorf("line %d: %v\n%s\n%s", st.line, err, st.script, raw)
		return false
	}
	check(t, st, parseOutput(string(raw)))
	return true
}
