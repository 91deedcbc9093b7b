package reviewshttp_test

import (
	"context"
	"errors"
	"testing"

	"github.com/atrium-bff/atrium/internal/conformance"
	"github.com/atrium-bff/atrium/services/reviews"
	"github.com/atrium-bff/atrium/services/reviews/reviewshttp"
)

var sides = conformance.Sides[reviews.Service]{
	New:     func(*testing.T) reviews.Service { return reviews.New() },
	Handler: reviewshttp.NewHandler,
	Client:  func(u string) reviews.Service { return reviewshttp.NewClient(u) },
}

func TestConformance(t *testing.T) {
	conformance.Run(t, sides, func(t *testing.T, svc reviews.Service) {
		ctx := context.Background()
		// Find a product with several reviews in the seed.
		ids := []string{"p001", "p002", "p003", "p004", "p005", "p006", "p007", "p008", "p009", "p010"}
		sums, err := svc.Summaries(ctx, ids)
		if err != nil || len(sums) != len(ids) {
			t.Fatalf("Summaries = %v, %v; want one per id", sums, err)
		}
		var busy reviews.Summary
		for i, s := range sums {
			if s.ProductID != ids[i] {
				t.Errorf("summary %d is for %s, want %s", i, s.ProductID, ids[i])
			}
			if s.Count > busy.Count {
				busy = s
			}
		}
		if busy.Count < 3 {
			t.Fatalf("no product among p001..p010 has 3 reviews: %v", sums)
		}

		t.Run("top is best first and limited", func(t *testing.T) {
			top, err := svc.Top(ctx, busy.ProductID, 3)
			if err != nil || len(top) != 3 {
				t.Fatalf("Top = %v, %v", top, err)
			}
			for i := 1; i < len(top); i++ {
				if top[i].Rating > top[i-1].Rating {
					t.Errorf("review %d rated %d after %d", i, top[i].Rating, top[i-1].Rating)
				}
			}
			if top[0].ProductID != busy.ProductID || top[0].CreatedAt.IsZero() {
				t.Errorf("Top[0] = %+v", top[0])
			}
		})
		t.Run("summary matches batch", func(t *testing.T) {
			s, err := svc.Summary(ctx, busy.ProductID)
			if err != nil || s != busy {
				t.Errorf("Summary = %+v, %v; want %+v", s, err, busy)
			}
			if s.Average < 1 || s.Average > 5 {
				t.Errorf("average %v out of 1..5", s.Average)
			}
		})
		t.Run("no reviews is empty, not an error", func(t *testing.T) {
			top, err := svc.Top(ctx, "p999", 3)
			if err != nil || len(top) != 0 {
				t.Errorf("Top(p999) = %v, %v", top, err)
			}
			s, err := svc.Summary(ctx, "p999")
			if err != nil || s != (reviews.Summary{ProductID: "p999"}) {
				t.Errorf("Summary(p999) = %+v, %v", s, err)
			}
		})
		t.Run("bad input", func(t *testing.T) {
			if _, err := svc.Top(ctx, "p001", 0); !errors.Is(err, reviews.ErrInvalid) {
				t.Errorf("limit 0: %v", err)
			}
			if _, err := svc.Top(ctx, "zz", 3); !errors.Is(err, reviews.ErrInvalid) {
				t.Errorf("bad id: %v", err)
			}
			if _, err := svc.Summaries(ctx, []string{"p001", ""}); !errors.Is(err, reviews.ErrInvalid) {
				t.Errorf("empty id in batch: %v", err)
			}
		})
	})
}
