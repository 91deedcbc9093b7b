package registry

import (
	"context"
	"log/slog"
	"time"
)

// Keep keeps inst registered through c: it registers at once, renews every
// interval (retrying a failed renewal at the next tick), and when ctx is done
// deregisters and returns. A nil logger discards; logger should name the
// instance.
func Keep(ctx context.Context, c Registrar, inst Instance, interval time.Duration, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	renew := func() {
		rctx, cancel := context.WithTimeout(ctx, interval)
		defer cancel()
		if err := c.Register(rctx, inst); err != nil && ctx.Err() == nil {
			logger.Warn("registry renewal failed", "err", err)
		}
	}
	renew()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			renew()
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := c.Deregister(dctx, inst.ID); err != nil {
				logger.Warn("deregistration failed", "err", err)
			} else {
				logger.Info("deregistered")
			}
			return
		}
	}
}
