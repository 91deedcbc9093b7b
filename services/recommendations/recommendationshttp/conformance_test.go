package recommendationshttp_test

import (
	"context"
	"errors"
	"testing"

	"github.com/atrium-bff/atrium/internal/conformance"
	"github.com/atrium-bff/atrium/services/recommendations"
	"github.com/atrium-bff/atrium/services/recommendations/recommendationshttp"
)

var sides = conformance.Sides[recommendations.Service]{
	New:     func(*testing.T) recommendations.Service { return recommendations.New() },
	Handler: recommendationshttp.NewHandler,
	Client:  func(u string) recommendations.Service { return recommendationshttp.NewClient(u) },
}

func TestConformance(t *testing.T) {
	conformance.Run(t, sides, func(t *testing.T, svc recommendations.Service) {
		ctx := context.Background()
		rs, err := svc.ForProduct(ctx, "p001", 4)
		if err != nil || len(rs) != 4 {
			t.Fatalf("ForProduct(p001, 4) = %v, %v", rs, err)
		}
		for i, r := range rs {
			if r.ProductID == "p001" || r.Score <= 0 || r.Score > 1 {
				t.Errorf("recommendation %d = %+v", i, r)
			}
			if i > 0 && r.Score > rs[i-1].Score {
				t.Errorf("recommendation %d scores above the one before", i)
			}
		}
		if rs, err := svc.ForProduct(ctx, "p999", 4); err != nil || len(rs) != 0 {
			t.Errorf("ForProduct(p999) = %v, %v; want empty", rs, err)
		}
		for _, limit := range []int{0, recommendations.MaxLimit + 1} {
			if _, err := svc.ForProduct(ctx, "p001", limit); !errors.Is(err, recommendations.ErrInvalid) {
				t.Errorf("limit %d: err = %v, want ErrInvalid", limit, err)
			}
		}
	})
}
