//go:build linux

package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/atrium-bff/atrium/internal/testkit"
)

// TestAClientGeneratedFromTheDocument is a frontend team's first day: in
// each mode, generate TypeScript types from the document the server serves
// (openapi-typescript), compile openapi/client/client.ts against them with
// tsc --strict (a part the document leaves out or mistypes fails here), and
// run it against the server through openapi-fetch: a sparse product page, a
// listing and its next link, a 404's code, a login, a cart change and the
// dashboard, each answer as the client expects.
func TestAClientGeneratedFromTheDocument(t *testing.T) {
	generate, tsc := testkit.NodeTool(t, "openapi-typescript"), testkit.NodeTool(t, "tsc")
	modules, err := filepath.Abs("../../openapi/node_modules")
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"monolith", "up"} {
		t.Run(mode, func(t *testing.T) {
			p := start(t, mode)
			dir := t.TempDir()
			for _, f := range []string{"client.ts", "tsconfig.json"} {
				b, err := os.ReadFile(filepath.Join("../../openapi/client", f))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
				t.Fatal(err)
			}
			run := func(name string, args ...string) []byte {
				t.Helper()
				cmd := exec.Command(name, args...)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, out)
				}
				return out
			}
			run(generate, servedDocument(t, p.base), "-o", filepath.Join(dir, "schema.d.ts"))
			run(tsc, "-p", dir)
			out := run("node", filepath.Join(dir, "out", "client.js"), p.base)
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("the client printed %s", out)
			}
			want := map[string]any{
				"page":      map[string]any{"name": "The Quiet Orchard", "stock": "in_stock", "sources": []any{"product", "stock"}},
				"listing":   []any{"p001", "p002"},
				"next":      `</api/v1/products?category=books&cursor=cDAwMg&limit=2>; rel="next"`,
				"missing":   map[string]any{"status": 404.0, "code": "product_not_found"},
				"cart":      []any{"p002x1"},
				"dashboard": map[string]any{"user": "u01", "cart": 1099.0},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("the generated client got\n%v\nwant\n%v", got, want)
			}
		})
	}
}
