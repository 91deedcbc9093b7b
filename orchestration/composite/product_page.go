package composite

import (
	"context"
	"strings"

	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/services"

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

// stockByID indexes stock levels as StockViews.
func stockByID(stock []inventory.Stock) map[string]*StockView {
	out := make(map[string]*StockView, len(stock))
	for _, s := range stock {
		out[s.ProductID] = toStockView(s)
	}
	return out
}

// Rating is a product's rating summary.
type Rating struct {
	Count   int     `json:"count"`
	Average float64 `json:"average"`
}

func ratingByID(sums []reviews.Summary) map[string]*Rating {
	out := make(map[string]*Rating, len(sums))
	for _, s := range sums {
		out[s.ProductID] = &Rating{Count: s.Count, Average: s.Average}
	}
	return out
}

// RecommendedProduct is a recommendation with what a product tile shows.
// Stock is null when the stock source failed.
type RecommendedProduct struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	PriceCents int64      `json:"price_cents"`
	Currency   string     `json:"currency"`
	Score      float64    `json:"score"`
	Stock      *StockView `json:"stock"`
}

// ProductPage is the product page: the product and everything around it.
// Optional parts are null when their source failed (see orchestration.Meta).
type ProductPage struct {
	Product         catalog.Product      `json:"product"`
	Stock           *StockView           `json:"stock"`
	Rating          *Rating              `json:"rating"`
	Reviews         []reviews.Review     `json:"reviews"`
	Recommendations []RecommendedProduct `json:"recommendations"`
	Meta            orchestration.Meta   `json:"_meta"`

	fields Fields
}

// Page sizes of the product page.
const (
	pageReviews         = 3
	pageRecommendations = 4
)

type pageState struct {
	id          string
	page        ProductPage
	recs        []recommendations.Recommendation
	recProducts []catalog.Product
	recStock    []inventory.Stock
}

func (s *pageState) recIDs() []string {
	ids := make([]string, len(s.recs))
	for i, r := range s.recs {
		ids[i] = r.ProductID
	}
	return ids
}

func pageID(s *pageState) string { return s.id }

func recKey(s *pageState) string { return strings.Join(s.recIDs(), ",") }

// productPagePlan: the product (required), its stock, rating, top reviews
// and recommendations in parallel; then the recommended products' details
// and stock, each in one batched call.
func (c *Composer) productPagePlan() *orchestration.Plan[pageState] {
	return orchestration.MustPlan(c.rt,
		orchestration.Fetch[pageState, catalog.Product]{Name: "product", Service: services.Catalog, Policy: c.read(true, c.cfg.CacheTTL), Key: pageID,
			Tags: func(p catalog.Product) []string { return productTags([]catalog.Product{p}) },
			Get: func(ctx context.Context, s *pageState) (catalog.Product, error) {
				return c.svc.Catalog.Product(ctx, s.id)
			},
			Set: func(s *pageState, v catalog.Product) { s.page.Product = v }},
		orchestration.Fetch[pageState, inventory.Stock]{Name: "stock", Service: services.Inventory, Policy: c.read(false, c.stockTTL()), Key: pageID,
			Get: func(ctx context.Context, s *pageState) (inventory.Stock, error) {
				return c.svc.Inventory.Stock(ctx, s.id)
			},
			Set: func(s *pageState, v inventory.Stock) { s.page.Stock = toStockView(v) }},
		orchestration.Fetch[pageState, reviews.Summary]{Name: "rating", Service: services.Reviews, Policy: c.read(false, c.cfg.CacheTTL), Key: pageID,
			Get: func(ctx context.Context, s *pageState) (reviews.Summary, error) {
				return c.svc.Reviews.Summary(ctx, s.id)
			},
			Set: func(s *pageState, v reviews.Summary) { s.page.Rating = &Rating{Count: v.Count, Average: v.Average} }},
		orchestration.Fetch[pageState, []reviews.Review]{Name: "reviews", Service: services.Reviews, Policy: c.read(false, c.cfg.CacheTTL), Key: pageID,
			Get: func(ctx context.Context, s *pageState) ([]reviews.Review, error) {
				return c.svc.Reviews.Top(ctx, s.id, pageReviews)
			},
			Set: func(s *pageState, v []reviews.Review) { s.page.Reviews = v }},
		orchestration.Fetch[pageState, []recommendations.Recommendation]{Name: "recommendations", Service: services.Recommendations, Policy: c.read(false, c.cfg.CacheTTL), Key: pageID,
			Get: func(ctx context.Context, s *pageState) ([]recommendations.Recommendation, error) {
				return c.svc.Recommendations.ForProduct(ctx, s.id, pageRecommendations)
			},
			Set: func(s *pageState, v []recommendations.Recommendation) { s.recs = v }},
		orchestration.Fetch[pageState, []catalog.Product]{Name: "recommended_products", Service: services.Catalog, After: []string{"recommendations"},
			Policy: c.read(false, c.cfg.CacheTTL), Key: recKey, Tags: productTags,
			Get: func(ctx context.Context, s *pageState) ([]catalog.Product, error) {
				return c.svc.Catalog.Products(ctx, s.recIDs())
			},
			Set: func(s *pageState, v []catalog.Product) { s.recProducts = v }},
		orchestration.Fetch[pageState, []inventory.Stock]{Name: "recommended_stock", Service: services.Inventory, After: []string{"recommendations"},
			Policy: c.read(false, c.stockTTL()), Key: recKey,
			Get: func(ctx context.Context, s *pageState) ([]inventory.Stock, error) {
				return c.svc.Inventory.Stocks(ctx, s.recIDs())
			},
			Set: func(s *pageState, v []inventory.Stock) { s.recStock = v }},
	)
}

// ProductPage composes the page of product id: the parts f selects (all
// when zero), calling only the services they need.
func (c *Composer) ProductPage(ctx context.Context, id string, f Fields) (ProductPage, error) {
	s := pageState{id: id}
	s.page.fields = f
	meta, err := compose(ctx, c, "product_page", c.productPage[f], &s)
	if s.recProducts != nil {
		s.page.Recommendations = enrich(s.recs, s.recProducts, stockByID(s.recStock))
	}
	s.page.Meta = meta
	return s.page, err
}

// enrich joins recommendations with their products and stock; products the
// catalog no longer has are left out.
func enrich(recs []recommendations.Recommendation, products []catalog.Product, stock map[string]*StockView) []RecommendedProduct {
	byID := make(map[string]catalog.Product, len(products))
	for _, p := range products {
		byID[p.ID] = p
	}
	out := make([]RecommendedProduct, 0, len(recs))
	for _, r := range recs {
		if p, ok := byID[r.ProductID]; ok {
			out = append(out, RecommendedProduct{ID: p.ID, Name: p.Name, PriceCents: p.PriceCents,
				Currency: p.Currency, Score: r.Score, Stock: stock[p.ID]})
		}
	}
	return out
}
