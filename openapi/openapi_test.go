package openapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/atrium-bff/atrium/openapi"
)

func TestDocumentLoadsAndValidates(t *testing.T) {
	s, err := openapi.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Doc.IsOpenAPI31OrLater() {
		t.Errorf("version %q, want 3.1", s.Doc.OpenAPI)
	}
	if len(s.Doc.Paths.Map()) < 20 {
		t.Errorf("only %d paths", len(s.Doc.Paths.Map()))
	}
}

// TestTheServerIsRelative: the document names no host, so that the docs
// page's "Try it out" calls the server that served it, on any host or port.
func TestTheServerIsRelative(t *testing.T) {
	servers := openapi.MustLoad("").Doc.Servers
	if len(servers) != 1 || servers[0].URL != "/" {
		t.Errorf("servers: %+v, want one, /", servers)
	}
}

// TestEachModesDocumentListsWhatItServes: the monolith's document leaves
// out the registry's operations (it has no registry), as JSON and as
// YAML; the microservices' keeps them, as the hand-written YAML.
func TestEachModesDocumentListsWhatItServes(t *testing.T) {
	const registry = "/admin/registry/instances"
	mono, micro := openapi.MustLoad(openapi.Monolith), openapi.MustLoad(openapi.Microservices)
	fromYAML, err := openapi3.NewLoader().LoadFromData(mono.YAML)
	if err != nil {
		t.Fatalf("the monolith's YAML: %v", err)
	}
	if mono.Doc.Paths.Find(registry) != nil || fromYAML.Paths.Find(registry) != nil || strings.Contains(string(mono.JSON), registry) {
		t.Error("the monolith's document lists the registry")
	}
	if len(fromYAML.Paths.Map()) != len(mono.Doc.Paths.Map()) || fromYAML.Paths.Find("/api/v1/products/{id}/page") == nil {
		t.Errorf("the monolith's YAML has %d paths, its JSON %d", len(fromYAML.Paths.Map()), len(mono.Doc.Paths.Map()))
	}
	if micro.Doc.Paths.Find(registry) == nil || !strings.Contains(string(micro.YAML), "x-atrium-modes: [microservices]") {
		t.Error("the microservices' document lacks the registry, or is not the hand-written YAML")
	}
}

// TestRequestSchemasAre30Compatible holds the request schemas (parameters
// and bodies) to the keywords OpenAPI 3.0 and 3.1 share, since requests are
// validated with kin-openapi's faster 3.0 validator.
func TestRequestSchemasAre30Compatible(t *testing.T) {
	s := openapi.MustLoad("")
	only31 := []string{`"type":[`, `"const"`, `"prefixItems"`, `"if"`, `"$defs"`, `"unevaluated`, `"dependent`, `"contains"`}
	check := func(where string, sch *openapi3.SchemaRef) {
		b, err := json.Marshal(sch)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range only31 {
			if strings.Contains(string(b), k) {
				t.Errorf("%s: request schema uses %s, a 3.1-only keyword: %s", where, k, b)
			}
		}
	}
	for path, item := range s.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, p := range append(item.Parameters, op.Parameters...) {
				check(method+" "+path+" "+p.Value.Name, p.Value.Schema)
			}
			if op.RequestBody != nil {
				for ct, mt := range op.RequestBody.Value.Content {
					check(method+" "+path+" "+ct, mt.Schema)
				}
			}
		}
	}
}

// TestServedDocumentPassesAnIndependentValidator checks the JSON the server
// serves with pb33f/libopenapi-validator, which validates against the
// OpenAPI 3.1 meta-schema and shares no code with kin-openapi.
func TestServedDocumentPassesAnIndependentValidator(t *testing.T) {
	doc, err := libopenapi.NewDocument(openapi.MustLoad("").JSON)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Error(e.Message, e.Reason)
		}
	}
}
