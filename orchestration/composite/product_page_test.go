package composite_test

import (
	"context"
	"errors"
	"testing"

	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/catalog"
	"github.com/atrium-bff/atrium/services/reviews"
)

func localServices(t testing.TB) services.Set {
	t.Helper()
	l, err := services.Open(services.Storage{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Set
}

// explodingReviews fails every call.
type explodingReviews struct{ reviews.Service }

func (explodingReviews) Top(context.Context, string, int) ([]reviews.Review, error) {
	return nil, errors.New("reviews exploded")
}

// missingCatalog knows no product.
type missingCatalog struct{ catalog.Service }

func (missingCatalog) Product(_ context.Context, id string) (catalog.Product, error) {
	return catalog.Product{}, catalog.ErrNotFound
}

func TestProductPage(t *testing.T) {
	c := composite.New(localServices(t), composite.Config{})
	page, err := c.ProductPage(context.Background(), "p001", 0)
	if err != nil {
		t.Fatal(err)
	}
	if page.Product.ID != "p001" || page.Stock == nil || page.Rating == nil || page.Reviews == nil || len(page.Recommendations) == 0 {
		t.Fatalf("page = %+v", page)
	}
	for _, r := range page.Recommendations {
		if r.Name == "" || r.PriceCents == 0 || r.Stock == nil {
			t.Errorf("recommendation not enriched: %+v", r)
		}
	}
	if page.Meta.Partial || len(page.Meta.Sources) != 7 {
		t.Errorf("meta = %+v", page.Meta)
	}
}

func TestProductPageDegrades(t *testing.T) {
	svc := localServices(t)
	svc.Reviews = explodingReviews{svc.Reviews}
	page, err := composite.New(svc, composite.Config{}).ProductPage(context.Background(), "p001", 0)
	if err != nil {
		t.Fatalf("a failed optional source failed the page: %v", err)
	}
	if !page.Meta.Partial || page.Reviews != nil || page.Meta.Sources["reviews"].Status != orchestration.StatusError {
		t.Errorf("page = %+v", page)
	}
	if page.Rating == nil || page.Stock == nil {
		t.Error("the other optional parts went missing too")
	}
}

func TestProductPageNotFound(t *testing.T) {
	svc := localServices(t)
	svc.Catalog = missingCatalog{svc.Catalog}
	_, err := composite.New(svc, composite.Config{}).ProductPage(context.Background(), "p001", 0)
	if !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("err = %v, want catalog.ErrNotFound (a 404 at the edge)", err)
	}
}
