package orchestration

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// Each fetches one value per id with get, at most limit at a time, for a
// service that has no batch read: the results are in the order of ids, and
// the first error cancels the rest. Prefer a batch read where one exists;
// every atrium service has one, so the composites use those.
func Each[T any](ctx context.Context, ids []string, limit int, get func(context.Context, string) (T, error)) ([]T, error) {
	out := make([]T, len(ids))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(limit, 1))
	for i, id := range ids {
		g.Go(func() (err error) {
			out[i], err = get(ctx, id)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}
