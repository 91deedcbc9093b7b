//go:build linux

package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/atrium-bff/atrium/internal/testkit"
	"github.com/atrium-bff/atrium/openapi"
)

// operation is one documented operation with the request its examples make.
type operation struct {
	id, method, path string
	op               *openapi3.Operation
	modes            []string
}

func operations(t *testing.T, doc *openapi3.T) []operation {
	t.Helper()
	var ops []operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			modes := []string{"monolith", "up"}
			if m, ok := op.Extensions["x-atrium-modes"].([]any); ok && slices.Contains(m, any("microservices")) {
				modes = []string{"up"}
			}
			params := append(slices.Clone(item.Parameters), op.Parameters...)
			u := path
			q := url.Values{}
			for _, p := range params {
				ex := p.Value.Example
				if ex == nil && p.Value.Schema != nil {
					ex = p.Value.Schema.Value.Example
				}
				switch {
				case p.Value.In == "path" && ex == nil:
					t.Fatalf("%s %s: path parameter %s has no example", method, path, p.Value.Name)
				case p.Value.In == "path":
					u = strings.ReplaceAll(u, "{"+p.Value.Name+"}", fmt.Sprint(ex))
				case p.Value.In == "query" && ex != nil:
					if list, ok := ex.([]any); ok { // style form, not exploded: comma-separated
						parts := make([]string, len(list))
						for i, v := range list {
							parts[i] = fmt.Sprint(v)
						}
						ex = strings.Join(parts, ",")
					}
					q.Set(p.Value.Name, fmt.Sprint(ex))
				}
			}
			if len(q) > 0 {
				u += "?" + q.Encode()
			}
			ops = append(ops, operation{op.OperationID, method, u, op, modes})
		}
	}
	// Reads first, then writes, deletes last: the examples build on each other.
	rank := map[string]int{"GET": 0, "PUT": 1, "POST": 2, "PATCH": 3, "DELETE": 4}
	slices.SortFunc(ops, func(a, b operation) int {
		if d := rank[a.method] - rank[b.method]; d != 0 {
			return d
		}
		return strings.Compare(a.path, b.path)
	})
	return ops
}

// TestEveryOperationAnswersAsDocumented sends every documented operation,
// built from the document's examples, to a running server in both modes,
// and validates each answer against the schema the document gives for its
// status code.
func TestEveryOperationAnswersAsDocumented(t *testing.T) {
	spec := openapi.MustLoad("")
	doc := *spec.Doc
	doc.Servers = openapi3.Servers{{URL: "/"}}
	router, err := gorillamux.NewRouter(&doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range []string{"text/html", "text/css", "text/javascript", "image/png"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	openapi3filter.RegisterBodyDecoder("text/plain", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/yaml", openapi3filter.PlainBodyDecoder) // the document as YAML text
	// No charge or order exists before a checkout; the example trace id is nobody's.
	mayFail := map[string]bool{"paymentsCharge": true, "ordersOrder": true, "order": true, "orderEvents": true, "getTrace": true}
	for _, mode := range []string{"monolith", "up"} {
		t.Run(mode, func(t *testing.T) {
			p := start(t, mode)
			served := servedDocument(t, p.base)
			lint(t, served)
			via := prism(t, served, p.base)
			session := p.do(t, "POST", "/api/v1/sessions", `{"email":"ada.lovelace@example.com","password":"atrium-u01"}`,
				"Content-Type", "application/json", "X-Requested-With", "e2e")
			cookie, _, _ := strings.Cut(session.header.Get("Set-Cookie"), ";")
			if session.status != http.StatusCreated || cookie == "" {
				t.Fatalf("log in: %d %s", session.status, session.body)
			}
			for _, op := range operations(t, &doc) {
				if !slices.Contains(op.modes, mode) {
					continue
				}
				var body io.Reader
				var raw []byte
				if op.op.RequestBody != nil {
					mt := op.op.RequestBody.Value.Content.Get("application/json")
					if mt == nil || mt.Example == nil {
						t.Fatalf("%s: the request body has no example", op.id)
					}
					raw, _ = json.Marshal(mt.Example)
					body = bytes.NewReader(raw)
				}
				req, _ := http.NewRequest(op.method, via+op.path, body)
				if raw != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				switch {
				case op.op.Security == nil || len(*op.op.Security) == 0:
				case usesAdminToken(op.op):
					req.Header.Set("Authorization", "Bearer "+adminToken)
				default: // the /me operations: the session's user's
					req.Header.Set("Cookie", cookie)
				}
				for _, prm := range op.op.Parameters {
					if prm.Value.In == "header" && prm.Value.Example != nil {
						req.Header.Set(prm.Value.Name, fmt.Sprint(prm.Value.Example))
					}
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", op.method, op.path, err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if op.method == "GET" && resp.StatusCode/100 != 2 && !mayFail[op.id] {
					t.Errorf("%s: GET %s with the documented example answered %d: %.300s", op.id, op.path, resp.StatusCode, got)
				}
				route, params, err := router.FindRoute(req)
				if err != nil {
					t.Fatalf("%s: %v", op.id, err)
				}
				in := &openapi3filter.ResponseValidationInput{
					RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
					Status:                 resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(got)),
					Options: &openapi3filter.Options{IncludeResponseStatus: true},
				}
				if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
					t.Errorf("%s: %s %s answered %d, which the document does not describe: %v\n%.400s", op.id, op.method, op.path, resp.StatusCode, err, got)
				}
				for _, v := range violations(t, resp.Header) {
					t.Errorf("%s: %s %s answered %d; Prism: %s", op.id, op.method, op.path, resp.StatusCode, v)
				}
			}
		})
	}
}

// usesAdminToken reports whether the admin token is one of the operation's
// ways in (the /me operations take a session only).
func usesAdminToken(op *openapi3.Operation) bool {
	for _, req := range *op.Security {
		if _, ok := req["adminToken"]; ok {
			return true
		}
	}
	return false
}

// servedDocument saves the document the server at base serves, and
// returns its file.
func servedDocument(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /openapi.json: %d %v", resp.StatusCode, err)
	}
	file := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// lint runs Redocly's recommended rules over a document: an error fails
// the test (warnings do not).
func lint(t *testing.T, doc string) {
	t.Helper()
	cmd := exec.Command(testkit.NodeTool(t, "redocly"), "lint", "--format=stylish", doc)
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("redocly lint %s: %v\n%s", doc, err, out)
	}
}

// prism starts Prism's proxy in front of base with the document doc, and
// returns its base URL. Prism validates every request and answer through
// it against the document, and names what breaks it in the answer's
// sl-violations header.
func prism(t *testing.T, doc, base string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(testkit.FreeAddr(t))
	cmd := exec.Command(testkit.NodeTool(t, "prism"), "proxy", doc, base, "--host", host, "--port", port)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan struct{})
	var log strings.Builder
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "Prism is listening") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(90 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("prism did not start in 90 s:\n%s", log.String())
	}
	return "http://" + net.JoinHostPort(host, port)
}

// violations lists what Prism found wrong with a request or its answer.
func violations(t *testing.T, h http.Header) []string {
	t.Helper()
	raw := h.Get("sl-violations")
	if raw == "" {
		return nil
	}
	var vs []struct {
		Location []string
		Severity string
		Message  string
	}
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Fatalf("sl-violations %q: %v", raw, err)
	}
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%s at %s: %s", v.Severity, strings.Join(v.Location, "."), v.Message))
	}
	return out
}
