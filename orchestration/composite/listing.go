package composite

import (
	"context"
	"fmt"

	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/services"

	"github.com/atrium-bff/atrium/services/catalog"
	"github.com/atrium-bff/atrium/services/inventory"
	"github.com/atrium-bff/atrium/services/reviews"
)

// ListingItem is a product in a listing with its stock badge and rating;
// either is null when its source failed.
type ListingItem struct {
	catalog.Product
	Stock  *StockView `json:"stock"`
	Rating *Rating    `json:"rating"`
}

// Listing is a page of products.
type Listing struct {
	Items      []ListingItem      `json:"items"`
	NextCursor string             `json:"next_cursor,omitempty"`
	Meta       orchestration.Meta `json:"_meta"`

	fields Fields
}

type listingState struct {
	q       catalog.ListQuery
	page    catalog.Page
	stock   []inventory.Stock
	ratings []reviews.Summary
}

func (s *listingState) ids() []string {
	ids := make([]string, len(s.page.Items))
	for i, p := range s.page.Items {
		ids[i] = p.ID
	}
	return ids
}

func listingKey(s *listingState) string {
	return fmt.Sprintf("%q %q %d %q", s.q.Category, s.q.Q, s.q.Limit, s.q.Cursor)
}

// listingPlan: the page of products (required), then their stock and their
// ratings in one batched call each.
func (c *Composer) listingPlan() *orchestration.Plan[listingState] {
	return orchestration.MustPlan(c.rt,
		orchestration.Fetch[listingState, catalog.Page]{Name: "products", Service: services.Catalog, Policy: c.read(true, c.cfg.CacheTTL), Key: listingKey,
			Tags: func(v catalog.Page) []string { return productTags(v.Items) },
			Get:  func(ctx context.Context, s *listingState) (catalog.Page, error) { return c.svc.Catalog.List(ctx, s.q) },
			Set:  func(s *listingState, v catalog.Page) { s.page = v }},
		orchestration.Fetch[listingState, []inventory.Stock]{Name: "stock", Service: services.Inventory, After: []string{"products"},
			Policy: c.read(false, c.stockTTL()), Key: listingKey,
			Get: func(ctx context.Context, s *listingState) ([]inventory.Stock, error) {
				return c.svc.Inventory.Stocks(ctx, s.ids())
			},
			Set: func(s *listingState, v []inventory.Stock) { s.stock = v }},
		orchestration.Fetch[listingState, []reviews.Summary]{Name: "ratings", Service: services.Reviews, After: []string{"products"},
			Policy: c.read(false, c.cfg.CacheTTL), Key: listingKey,
			Get: func(ctx context.Context, s *listingState) ([]reviews.Summary, error) {
				return c.svc.Reviews.Summaries(ctx, s.ids())
			},
			Set: func(s *listingState, v []reviews.Summary) { s.ratings = v }},
	)
}

// Products composes a page of the product listing, its items with the parts
// f selects (all when zero).
func (c *Composer) Products(ctx context.Context, q catalog.ListQuery, f Fields) (Listing, error) {
	s := listingState{q: q}
	meta, err := compose(ctx, c, "product_listing", c.listing[f], &s)
	if err != nil {
		return Listing{Meta: meta, fields: f}, err
	}
	stock, ratings := stockByID(s.stock), ratingByID(s.ratings)
	out := Listing{Items: make([]ListingItem, len(s.page.Items)), NextCursor: s.page.NextCursor, Meta: meta, fields: f}
	for i, p := range s.page.Items {
		out.Items[i] = ListingItem{Product: p, Stock: stock[p.ID], Rating: ratings[p.ID]}
	}
	return out, nil
}
