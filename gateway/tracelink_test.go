package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestATraceLinkOpensOneTraceInABrowser: the admin asks for a link to a
// trace; the link opens that trace's waterfall with no header (as a
// browser would), and nothing else: not another trace, not the list.
func TestATraceLinkOpensOneTraceInABrowser(t *testing.T) {
	h := monolith(t)
	page := do(t, h, "GET", "/api/v1/products/p001/page", "")
	id := page.Header().Get("X-Trace-Id")
	if id == "" {
		t.Fatal("the page is not traced")
	}
	if w := do(t, h, "GET", "/admin/traces/"+id+"/link", ""); w.Code != 401 {
		t.Errorf("a link without the admin token: %d", w.Code)
	}
	w := do(t, h, "GET", "/admin/traces/"+id+"/link", "", "Authorization", "Bearer "+token)
	var link struct{ URL, Expires string }
	if err := json.Unmarshal(w.Body.Bytes(), &link); err != nil || w.Code != 200 || !strings.HasPrefix(link.URL, "/admin/traces/"+id+"?view=html&link=") {
		t.Fatalf("link: %d %s", w.Code, w.Body)
	}
	if w := do(t, h, "GET", link.URL, ""); w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") || !strings.Contains(w.Body.String(), "GET /api/v1/products/{id}/page") {
		t.Errorf("the link, with no header: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	_, value, _ := strings.Cut(link.URL, "link=")
	other := strings.Repeat("ab", 16)
	tampered := value[:len(value)-1] + "0" // one hex digit changed (the last was 0 one time in 16)
	if strings.HasSuffix(value, "0") {
		tampered = value[:len(value)-1] + "1"
	}
	for path, want := range map[string]int{
		"/admin/traces/" + other + "?view=html&link=" + value:                              403, // another trace
		"/admin/traces/" + id + "?view=html&link=" + tampered:                              403, // tampered
		"/admin/traces/" + id + "?view=html&link=1." + value[strings.Index(value, ".")+1:]: 403, // expired long ago
		"/admin/traces?link=" + value:                                                      401, // the list is the admin's
		"/admin/traces/" + id + "?view=html":                                               401,
	} {
		if w := do(t, h, "GET", path, ""); w.Code != want {
			t.Errorf("%s: %d, want %d", path, w.Code, want)
		}
	}
}
