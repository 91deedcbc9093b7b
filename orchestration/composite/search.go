package composite

import (
	"context"
	"fmt"

	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/inventory"
	"github.com/atrium-bff/atrium/services/search"
)

// SearchItem is a product that a search found, with its stock badge (null
// when inventory failed).
type SearchItem struct {
	search.Hit
	Stock *StockView `json:"stock"`
}

// SearchResults is what a search found, best first.
type SearchResults struct {
	Items []SearchItem `json:"items"`
	// Indexed is how many products the search index holds: fewer than the
	// catalog's while it is still taking the catalog's events.
	Indexed int                `json:"indexed"`
	Meta    orchestration.Meta `json:"_meta"`
}

// Metadata implements Result.
func (r SearchResults) Metadata() orchestration.Meta { return r.Meta }

type searchState struct {
	q       string
	limit   int
	results search.Results
	stock   []inventory.Stock
}

func (s *searchState) ids() []string {
	ids := make([]string, len(s.results.Hits))
	for i, h := range s.results.Hits {
		ids[i] = h.ID
	}
	return ids
}

// searchPlan: the hits (required, not cached: the index changes with every
// catalog event it takes), then their stock in one batched call.
func (c *Composer) searchPlan() *orchestration.Plan[searchState] {
	return orchestration.MustPlan(c.rt,
		orchestration.Fetch[searchState, search.Results]{Name: "hits", Service: services.Search, Policy: c.read(true, 0),
			Key: func(s *searchState) string { return fmt.Sprintf("%q %d", s.q, s.limit) },
			Get: func(ctx context.Context, s *searchState) (search.Results, error) {
				return c.svc.Search.Query(ctx, s.q, s.limit)
			},
			Set: func(s *searchState, v search.Results) { s.results = v }},
		orchestration.Fetch[searchState, []inventory.Stock]{Name: "stock", Service: services.Inventory, After: []string{"hits"},
			Policy: c.read(false, c.stockTTL()), Key: func(s *searchState) string { return fmt.Sprint(s.ids()) },
			Get: func(ctx context.Context, s *searchState) ([]inventory.Stock, error) {
				return c.svc.Inventory.Stocks(ctx, s.ids())
			},
			Set: func(s *searchState, v []inventory.Stock) { s.stock = v }},
	)
}

// Search composes the products that match q, best first, with their stock.
func (c *Composer) Search(ctx context.Context, q string, limit int) (SearchResults, error) {
	s := searchState{q: q, limit: limit}
	meta, err := compose(ctx, c, "search", c.search, &s)
	if err != nil {
		return SearchResults{Meta: meta}, err
	}
	stock := stockByID(s.stock)
	out := SearchResults{Items: make([]SearchItem, len(s.results.Hits)), Indexed: s.results.Indexed, Meta: meta}
	for i, h := range s.results.Hits {
		out.Items[i] = SearchItem{Hit: h, Stock: stock[h.ID]}
	}
	return out, nil
}
