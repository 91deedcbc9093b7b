package openapi_test

import (
	"testing"

	"github.com/atrium-bff/atrium/openapi"
)

func TestDocumentLoadsAndValidates(t *testing.T) {
	s, err := openapi.Load()
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
