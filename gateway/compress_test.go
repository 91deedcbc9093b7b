package gateway_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAnswersAreCompressed: a client that accepts gzip gets the spec, a
// docs asset and a composite compressed, and the same JSON once inflated;
// one that does not, or a small answer, gets them as they are.
func TestAnswersAreCompressed(t *testing.T) {
	forBothModes(t, func(t *testing.T, m mode) {
		srv := httptest.NewServer(m.h)
		defer srv.Close()
		get := func(path string, gz bool) (*http.Response, []byte) {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			if gz {
				req.Header.Set("Accept-Encoding", "zstd, gzip") // as a browser asks: gzip is the one atrium gives
			}
			resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, b
		}
		for _, path := range []string{"/openapi.json", "/docs/swagger-ui.css", "/api/v1/products?limit=20"} {
			plain, body := get(path, false)
			zipped, zbody := get(path, true)
			if plain.Header.Get("Content-Encoding") != "" || zipped.Header.Get("Content-Encoding") != "gzip" || len(zbody) >= len(body) {
				t.Errorf("%s: %q %d bytes, gzip %q %d bytes", path, plain.Header.Get("Content-Encoding"), len(body), zipped.Header.Get("Content-Encoding"), len(zbody))
				continue
			}
			zr, err := gzip.NewReader(bytes.NewReader(zbody))
			if err != nil {
				t.Fatal(err)
			}
			inflated, _ := io.ReadAll(zr)
			if path == "/openapi.json" && (string(inflated) != string(body) || !json.Valid(inflated)) {
				t.Errorf("%s inflated differs from the plain answer", path)
			}
			t.Logf("%s: %d -> %d bytes", path, len(body), len(zbody))
		}
		if resp, _ := get("/healthz", true); resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("a probe was compressed")
		}
	})
}
