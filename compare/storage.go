package compare

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atrium-bff/atrium/internal/pgcluster"
)

// StorageRow is one endpoint measured in microservices mode with the
// services' state in one engine.
type StorageRow struct {
	Engine   string `json:"engine"`
	Endpoint string `json:"endpoint"`
	Stats
}

// Engines measured by the storage scenario.
const (
	SQLite     = "SQLite"
	PostgreSQL = "PostgreSQL"
)

// storage runs the microservices with the services' state in SQLite files,
// then in PostgreSQL (cfg.Database, or a throw-away cluster on loopback),
// and drives the product page and the dashboard at the steady rate on
// each: what the database server costs a read.
func (r *runner) storage(ctx context.Context, rep *Report) error {
	database := r.cfg.Database
	if database == "" {
		c, err := pgcluster.Start(ctx)
		if errors.Is(err, pgcluster.ErrNotInstalled) {
			rep.StorageNotRun = err.Error() + ", and no --database was given"
			return nil
		}
		if err != nil {
			return fmt.Errorf("a PostgreSQL cluster: %w", err)
		}
		defer c.Stop()
		if database, err = c.Database(ctx); err != nil {
			return err
		}
	}
	for _, engine := range []struct {
		name string
		args []string
	}{{SQLite, nil}, {PostgreSQL, []string{"--database", database}}} {
		p, err := r.start(ctx, Microservices, engine.args...)
		if err != nil {
			return fmt.Errorf("%s: %w", engine.name, err)
		}
		load{name: engine.name + " warm-up", targets: targets(p.Base, Endpoints[0].Paths, r.header()), rate: r.cfg.Rate, duration: min(time.Second, r.cfg.Duration)}.run(ctx, r.prog)
		for _, ep := range []Endpoint{Endpoints[0], Endpoints[2]} {
			st := load{name: "storage " + engine.name + " " + ep.Name, targets: targets(p.Base, ep.Paths, r.header()), rate: r.cfg.Rate, duration: r.cfg.Duration}.run(ctx, r.prog)
			rep.Storage = append(rep.Storage, StorageRow{Engine: engine.name, Endpoint: ep.Name, Stats: st})
		}
		if err := p.Stop(20 * time.Second); err != nil {
			return fmt.Errorf("stop %s: %w", engine.name, err)
		}
	}
	return nil
}
