package orchestration

import (
	"context"

	"github.com/atrium-bff/atrium/services/catalog"
	"github.com/atrium-bff/atrium/services/inventory"
	"github.com/atrium-bff/atrium/services/recommendations"
	"github.com/atrium-bff/atrium/services/reviews"
)

// Stock badges.
const (
	StockIn  = "in_stock"
	StockLow = "low_stock"
	StockOut = "out_of_stock"
)

// LowStock is the level at and below which stock is "low_stock".
const LowStock = 5

// StockView is a product's stock as a shopper sees it.
type StockView struct {
	Available int    `json:"available"`
	Status    string `json:"status"`
}

func toStockView(s inventory.Stock) *StockView {
	status := StockIn
	switch {
	case s.Available == 0:
		status = StockOut
	case s.Available <= LowStock:
		status = StockLow
	}
	return &StockView{Available: s.Available, Status: status}
}

// Rating is a product's rating summary.
type Rating struct {
	Count   int     `json:"count"`
	Average float64 `json:"average"`
}

// RecommendedProduct is a recommendation with what a product tile shows.
type RecommendedProduct struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	PriceCents int64   `json:"price_cents"`
	Currency   string  `json:"currency"`
	Score      float64 `json:"score"`
}

// ProductPage is the product page: the product and everything around it.
// Optional parts are null when their source failed (see Meta).
type ProductPage struct {
	Product         catalog.Product      `json:"product"`
	Stock           *StockView           `json:"stock"`
	Rating          *Rating              `json:"rating"`
	Reviews         []reviews.Review     `json:"reviews"`
	Recommendations []RecommendedProduct `json:"recommendations"`
	Meta            Meta                 `json:"_meta"`
}

// Page sizes of the product page.
const (
	pageReviews         = 3
	pageRecommendations = 4
)

// ProductPage composes the page of product id: the product (required), its
// stock, rating, top reviews and recommendations (optional), all in
// parallel. The recommendations are enriched with names and prices in one
// batched catalog call.
func (c *Composer) ProductPage(ctx context.Context, id string) (ProductPage, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Deadline)
	defer cancel()
	var page ProductPage
	meta, err := Run(ctx,
		Call{Name: "product", Required: true, Timeout: c.cfg.CallTimeout, Do: func(ctx context.Context) (err error) {
			page.Product, err = c.svc.Catalog.Product(ctx, id)
			return err
		}},
		Call{Name: "stock", Timeout: c.cfg.CallTimeout, Do: func(ctx context.Context) error {
			s, err := c.svc.Inventory.Stock(ctx, id)
			if err == nil {
				page.Stock = toStockView(s)
			}
			return err
		}},
		Call{Name: "rating", Timeout: c.cfg.CallTimeout, Do: func(ctx context.Context) error {
			s, err := c.svc.Reviews.Summary(ctx, id)
			if err == nil {
				page.Rating = &Rating{Count: s.Count, Average: s.Average}
			}
			return err
		}},
		Call{Name: "reviews", Timeout: c.cfg.CallTimeout, Do: func(ctx context.Context) (err error) {
			page.Reviews, err = c.svc.Reviews.Top(ctx, id, pageReviews)
			return err
		}},
		Call{Name: "recommendations", Timeout: c.cfg.CallTimeout, Do: func(ctx context.Context) (err error) {
			page.Recommendations, err = c.recommend(ctx, id, pageRecommendations)
			return err
		}},
	)
	page.Meta = meta
	return page, err
}

// recommend returns the recommendations for id with their catalog details,
// in one batched catalog call; products the catalog no longer has are left out.
func (c *Composer) recommend(ctx context.Context, id string, limit int) ([]RecommendedProduct, error) {
	recs, err := c.svc.Recommendations.ForProduct(ctx, id, limit)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ProductID
	}
	products, err := c.svc.Catalog.Products(ctx, ids)
	if err != nil {
		return nil, err
	}
	return enrich(recs, products), nil
}

func enrich(recs []recommendations.Recommendation, products []catalog.Product) []RecommendedProduct {
	byID := make(map[string]catalog.Product, len(products))
	for _, p := range products {
		byID[p.ID] = p
	}
	out := make([]RecommendedProduct, 0, len(recs))
	for _, r := range recs {
		if p, ok := byID[r.ProductID]; ok {
			out = append(out, RecommendedProduct{ID: p.ID, Name: p.Name, PriceCents: p.PriceCents, Currency: p.Currency, Score: r.Score})
		}
	}
	return out
}
