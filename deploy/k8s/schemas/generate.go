//go:build ignore

// generate writes the JSON Schemas that kubeconform validates deploy/k8s
// against, offline: one standalone, strict schema per kind the manifests
// use, from the Kubernetes OpenAPI document of a pinned release (the
// k8s.io/kubernetes module's api/openapi-spec/swagger.json). Run from this
// folder:
//
//	go run generate.go "$(go mod download -json k8s.io/kubernetes@v1.34.4 | jq -r .Dir)/api/openapi-spec/swagger.json"
//
// Standalone: every $ref is written out in place. Strict: an object with
// properties takes no other property. Int-or-string is a string or an
// integer. The file names are kubeconform's: kind-group-version.json.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

var kinds = []string{
	"io.k8s.api.apps.v1.Deployment",
	"io.k8s.api.core.v1.Service",
	"io.k8s.api.policy.v1.PodDisruptionBudget",
	"io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
	"io.k8s.api.core.v1.ConfigMap",
}

func main() {
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		panic(err)
	}
	for _, name := range kinds {
		def := doc.Definitions[name]
		gvk := def["x-kubernetes-group-version-kind"].([]any)[0].(map[string]any)
		file := strings.ToLower(gvk["kind"].(string))
		if g := gvk["group"].(string); g != "" {
			file += "-" + strings.Split(g, ".")[0]
		}
		file += "-" + gvk["version"].(string) + ".json"
		out, err := json.MarshalIndent(expand(doc.Definitions, def, nil), "", " ")
		if err != nil {
			panic(err)
		}
		if err := os.WriteFile(file, append(out, '\n'), 0o644); err != nil {
			panic(err)
		}
		fmt.Println(file)
	}
}

// expand writes out v's $refs from defs (seen guards against recursion),
// and makes its objects strict.
func expand(defs map[string]map[string]any, v any, seen []string) any {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/definitions/")
			for _, s := range seen {
				if s == name {
					return map[string]any{} // a recursive type: anything
				}
			}
			return expand(defs, defs[name], append(seen, name))
		}
		out := map[string]any{}
		for k, e := range x {
			if strings.HasPrefix(k, "x-kubernetes-") && k != "x-kubernetes-group-version-kind" {
				continue
			}
			out[k] = expand(defs, e, seen)
		}
		if out["format"] == "int-or-string" {
			delete(out, "type")
			delete(out, "format")
			out["oneOf"] = []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}
		}
		if _, has := out["properties"]; has {
			if _, set := out["additionalProperties"]; !set {
				out["additionalProperties"] = false
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = expand(defs, e, seen)
		}
		return out
	}
	return v
}
