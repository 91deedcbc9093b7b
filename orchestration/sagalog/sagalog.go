// Package sagalog keeps saga runs durably in a database (internal/sqldb: a
// SQLite file, or PostgreSQL): each run's state and step records, the
// process that owns it and until when (a lease), and its final answer.
// Every gateway that opens the same database sees every run: a run whose owner died is taken
// over once its lease has expired, and a finished run's answer is given
// again, whichever gateway is asked.
package sagalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/atrium-bff/atrium/internal/sqldb"
	"github.com/atrium-bff/atrium/orchestration"
)

const schema = `
CREATE TABLE IF NOT EXISTS runs (
	id          TEXT PRIMARY KEY,
	state       BLOB NOT NULL,
	run         BLOB NOT NULL,
	owner       TEXT NOT NULL,
	lease_until INTEGER NOT NULL,
	done        INTEGER NOT NULL DEFAULT 0,
	status      INTEGER NOT NULL DEFAULT 0,
	answer      BLOB,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_unfinished ON runs (done, lease_until);
`

// ErrNotFound reports a run the log does not hold.
var ErrNotFound = errors.New("saga run not found")

// Entry is one run as the log holds it.
type Entry struct {
	ID string
	// State is the saga's state as JSON, as of the last save.
	State []byte
	Run   orchestration.SagaRun
	// Owner holds the run until LeaseUntil.
	Owner      string
	LeaseUntil time.Time
	// Done is set once the run is finished; Status and Answer are then the
	// answer its client was given.
	Done    bool
	Status  int
	Answer  []byte
	Created time.Time
}

// Log is a saga log over one database. It is safe for concurrent use, by
// several processes too.
type Log struct {
	db  *sqldb.DB
	now func() time.Time
}

// Open opens (creating when absent) the log at path, a SQLite file or a
// PostgreSQL URL (sqldb.Open).
func Open(path string) (*Log, error) {
	db, err := sqldb.Open(path, schema)
	if err != nil {
		return nil, fmt.Errorf("saga log: %w", err)
	}
	return &Log{db: db, now: time.Now}, nil
}

// Close closes the file.
func (l *Log) Close() error { return l.db.Close() }

// Claim returns the run id, owned by owner until lease from now, and
// claimed true: a new run (with state and an empty record) when the log
// has none, or a run whose owner's lease has expired, taken over. Otherwise
// it returns the run as it is, claimed false: finished, or owned by another
// process still.
func (l *Log) Claim(ctx context.Context, id, owner string, lease time.Duration, state []byte) (Entry, bool, error) {
	var e Entry
	claimed := false
	err := l.db.Tx(ctx, func(tx *sqldb.Tx) error {
		now := l.now()
		var err error
		e, err = get(ctx, tx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			run, _ := json.Marshal(orchestration.SagaRun{})
			if _, err := tx.ExecContext(ctx, `INSERT INTO runs (id, state, run, owner, lease_until, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, id, state, run, owner, now.Add(lease).UnixMilli(), now.UnixMilli(), now.UnixMilli()); err != nil {
				return err
			}
			e = Entry{ID: id, State: state, Owner: owner, LeaseUntil: now.Add(lease), Created: now}
			claimed = true
			return nil
		case err != nil:
			return err
		case e.Done || e.Owner != owner && now.Before(e.LeaseUntil):
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET owner = ?, lease_until = ?, updated_at = ? WHERE id = ?`,
			owner, now.Add(lease).UnixMilli(), now.UnixMilli(), id); err != nil {
			return err
		}
		e.Owner, e.LeaseUntil, claimed = owner, now.Add(lease), true
		return nil
	})
	if err != nil {
		return Entry{}, false, fmt.Errorf("saga log: claim %s: %w", id, err)
	}
	return e, claimed, nil
}

// Save writes the state and record of a run that owner holds, renewing its
// lease. It fails with orchestration.ErrSagaTaken when owner holds it no
// more.
func (l *Log) Save(ctx context.Context, id, owner string, lease time.Duration, state []byte, run *orchestration.SagaRun) error {
	return l.write(ctx, id, owner, `state = ?, run = ?, lease_until = ?`, state, mustJSON(run), l.now().Add(lease).UnixMilli())
}

// Finish writes a run's final state and record and the answer its client
// was given, and marks it done.
func (l *Log) Finish(ctx context.Context, id, owner string, state []byte, run *orchestration.SagaRun, status int, answer []byte) error {
	return l.write(ctx, id, owner, `state = ?, run = ?, done = 1, status = ?, answer = ?`, state, mustJSON(run), status, answer)
}

// Renew extends owner's claim of an unfinished run by lease from now; it
// fails with orchestration.ErrSagaTaken when owner holds it no more.
func (l *Log) Renew(ctx context.Context, id, owner string, lease time.Duration) error {
	return l.write(ctx, id, owner, `lease_until = ?`, l.now().Add(lease).UnixMilli())
}

// Release gives up owner's claim of an unfinished run at once, so that the
// next pass of any process may take it.
func (l *Log) Release(ctx context.Context, id, owner string) error {
	return l.write(ctx, id, owner, `lease_until = 0`)
}

// Forget deletes an unfinished run that owner holds: one whose failure is
// not its key's final answer.
func (l *Log) Forget(ctx context.Context, id, owner string) error {
	res, err := l.db.ExecContext(ctx, `DELETE FROM runs WHERE id = ? AND owner = ? AND done = 0`, id, owner)
	if err != nil {
		return fmt.Errorf("saga log: forget %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("saga log: %s: %w", id, orchestration.ErrSagaTaken)
	}
	return nil
}

func (l *Log) write(ctx context.Context, id, owner, set string, args ...any) error {
	args = append(args, l.now().UnixMilli(), id, owner)
	res, err := l.db.ExecContext(ctx, `UPDATE runs SET `+set+`, updated_at = ? WHERE id = ? AND owner = ? AND done = 0`, args...)
	if err != nil {
		return fmt.Errorf("saga log: %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("saga log: %s: %w", id, orchestration.ErrSagaTaken)
	}
	return nil
}

// Get returns the run id, or ErrNotFound.
func (l *Log) Get(ctx context.Context, id string) (Entry, error) {
	return get(ctx, l.db, id)
}

// Stale returns the ids of at most n unfinished runs whose lease has
// expired, oldest first: the runs whose owner died.
func (l *Log) Stale(ctx context.Context, n int) ([]string, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT id FROM runs WHERE done = 0 AND lease_until < ? ORDER BY created_at LIMIT ?`,
		l.now().UnixMilli(), n)
	if err != nil {
		return nil, fmt.Errorf("saga log: stale runs: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Unfinished counts the runs not done yet.
func (l *Log) Unfinished(ctx context.Context) (int, error) {
	var n int
	err := l.db.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE done = 0`).Scan(&n)
	return n, err
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func get(ctx context.Context, q querier, id string) (Entry, error) {
	var (
		e              Entry
		run            []byte
		lease, created int64
		done           int
		answer         []byte
	)
	err := q.QueryRowContext(ctx, `SELECT id, state, run, owner, lease_until, done, status, answer, created_at FROM runs WHERE id = ?`, id).
		Scan(&e.ID, &e.State, &run, &e.Owner, &lease, &done, &e.Status, &answer, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fmt.Errorf("saga run %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Entry{}, err
	}
	if err := json.Unmarshal(run, &e.Run); err != nil {
		return Entry{}, fmt.Errorf("saga run %s: record: %w", id, err)
	}
	e.LeaseUntil, e.Created, e.Done, e.Answer = time.UnixMilli(lease), time.UnixMilli(created), done == 1, answer
	return e, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // a SagaRun always marshals
	}
	return b
}
