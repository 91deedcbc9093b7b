package telemetry

import (
	"context"
	_ "embed"
	"errors"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

	"github.com/atrium-bff/atrium/internal/problem"
	"github.com/atrium-bff/atrium/internal/rest"
)

// Peer is another process whose spans belong in a trace: its base URL and
// the bearer token its traces API takes.
type Peer struct {
	URL, Token string
}

// Peers lists the peers (every service instance, for a gateway); nil for
// none.
type Peers func() []Peer

// Routes serves the traces API at g (which the caller guards):
//
//	GET {g}                     recent traces, newest first
//	GET {g}/{id}                one trace's spans, from this process and its peers
//	GET {g}/{id}?view=html      the same as a waterfall page
//	GET {g}/{id}?local=true     this process's spans only (what peers are asked)
func (t *Telemetry) Routes(g *echo.Group, peers Peers) {
	g.GET("", func(c echo.Context) error { return c.JSON(http.StatusOK, t.Ring.Recent()) })
	g.GET("/:id", func(c echo.Context) error {
		id := c.Param("id")
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			return problem.Newf(http.StatusBadRequest, "invalid", "trace id %q is not 32 lowercase hex digits", id)
		}
		spans := t.Ring.Trace(id)
		if peers != nil && c.QueryParam("local") != "true" {
			spans = append(spans, gather(c.Request().Context(), peers(), id)...)
			sort.Slice(spans, func(i, j int) bool { return spans[i].Start.Before(spans[j].Start) })
		}
		if len(spans) == 0 {
			return problem.Newf(http.StatusNotFound, "trace_not_found", "no spans of trace %s here (is it older than the ring, or unsampled?)", id)
		}
		tr := Trace{TraceSummary: summarise(spans), Spans: spans}
		if c.QueryParam("view") == "html" {
			c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
			return waterfall.Execute(c.Response(), newWaterfall(tr))
		}
		return c.JSON(http.StatusOK, tr)
	})
}

// Trace is one trace with its spans.
type Trace struct {
	TraceSummary
	Spans []Span `json:"spans"`
}

// gather asks every peer for its spans of a trace, in parallel; a peer
// that fails or knows nothing of it adds nothing.
func gather(ctx context.Context, peers []Peer, id string) []Span {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	parts := make([][]Span, len(peers))
	var g errgroup.Group
	g.SetLimit(16)
	for i, peer := range peers {
		g.Go(func() error {
			var tr Trace
			err := rest.NewEdge(peer.URL, nil, peer.Token).Call(ctx, "GET", "/admin/traces/"+id, map[string][]string{"local": {"true"}}, nil, &tr)
			var se *rest.StatusError
			if err == nil || errors.As(err, &se) {
				parts[i] = tr.Spans
			}
			return nil
		})
	}
	_ = g.Wait()
	var out []Span
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

type waterfallRow struct {
	Span
	Depth       int
	Left, Width float64 // percent of the trace
}

type waterfallPage struct {
	Trace
	Rows []waterfallRow
}

// newWaterfall lays spans out as rows, each under its parent, indented by
// depth and placed on the trace's time line.
func newWaterfall(tr Trace) waterfallPage {
	children := map[string][]Span{}
	ids := map[string]bool{}
	for _, s := range tr.Spans {
		ids[s.SpanID] = true
	}
	var roots []Span
	for _, s := range tr.Spans {
		if s.ParentID == "" || !ids[s.ParentID] {
			roots = append(roots, s)
		} else {
			children[s.ParentID] = append(children[s.ParentID], s)
		}
	}
	total := max(tr.DurationMS, 0.001)
	page := waterfallPage{Trace: tr}
	var walk func(s Span, depth int)
	walk = func(s Span, depth int) {
		left := float64(s.Start.Sub(tr.Start).Microseconds()) / 1000 / total * 100
		page.Rows = append(page.Rows, waterfallRow{Span: s, Depth: depth, Left: left, Width: max(s.DurationMS/total*100, 0.3)})
		for _, c := range children[s.SpanID] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return page
}

//go:embed waterfall.html
var waterfallHTML string

var waterfall = template.Must(template.New("waterfall").Funcs(template.FuncMap{
	"indent": func(d int) int { return d * 14 },
	"pct":    func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) + "%" },
}).Parse(waterfallHTML))
