package sagalog

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/atrium-bff/atrium/orchestration"
)

// Memory is a saga log in this process's memory, for a caller with no
// file: it coalesces and replays within the process only, and forgets
// everything when it ends. The zero value is ready to use; it is safe for
// concurrent use.
type Memory struct {
	mu   sync.Mutex
	runs map[string]*Entry
}

// Claim implements the same contract as SQLite.Claim.
func (m *Memory) Claim(_ context.Context, id, owner string, lease time.Duration, state []byte) (Entry, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	e, ok := m.runs[id]
	switch {
	case !ok:
		if m.runs == nil {
			m.runs = map[string]*Entry{}
		}
		e = &Entry{ID: id, State: slices.Clone(state), Owner: owner, LeaseUntil: now.Add(lease), Created: now}
		m.runs[id] = e
		return copyOf(e), true, nil
	case e.Done || e.Owner != owner && now.Before(e.LeaseUntil):
		return copyOf(e), false, nil
	}
	e.Owner, e.LeaseUntil = owner, now.Add(lease)
	return copyOf(e), true, nil
}

// Save implements the same contract as SQLite.Save.
func (m *Memory) Save(_ context.Context, id, owner string, lease time.Duration, state []byte, run *orchestration.SagaRun) error {
	return m.write(id, owner, func(e *Entry) {
		e.State, e.Run, e.LeaseUntil = slices.Clone(state), cloneRun(run), time.Now().Add(lease)
	})
}

// Finish implements the same contract as SQLite.Finish.
func (m *Memory) Finish(_ context.Context, id, owner string, state []byte, run *orchestration.SagaRun, status int, answer []byte) error {
	return m.write(id, owner, func(e *Entry) {
		e.State, e.Run, e.Done, e.Status, e.Answer = slices.Clone(state), cloneRun(run), true, status, slices.Clone(answer)
	})
}

// Renew implements the same contract as SQLite.Renew.
func (m *Memory) Renew(_ context.Context, id, owner string, lease time.Duration) error {
	return m.write(id, owner, func(e *Entry) { e.LeaseUntil = time.Now().Add(lease) })
}

// Release implements the same contract as SQLite.Release.
func (m *Memory) Release(_ context.Context, id, owner string) error {
	return m.write(id, owner, func(e *Entry) { e.LeaseUntil = time.Time{} })
}

// Forget implements the same contract as SQLite.Forget.
func (m *Memory) Forget(_ context.Context, id, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.runs[id]; !ok || e.Owner != owner || e.Done {
		return fmt.Errorf("saga log: %s: %w", id, orchestration.ErrSagaTaken)
	}
	delete(m.runs, id)
	return nil
}

func (m *Memory) write(id, owner string, change func(*Entry)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.runs[id]
	if !ok || e.Owner != owner || e.Done {
		return fmt.Errorf("saga log: %s: %w", id, orchestration.ErrSagaTaken)
	}
	change(e)
	return nil
}

// Get implements the same contract as SQLite.Get.
func (m *Memory) Get(_ context.Context, id string) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.runs[id]
	if !ok {
		return Entry{}, fmt.Errorf("saga run %s: %w", id, ErrNotFound)
	}
	return copyOf(e), nil
}

// Stale implements the same contract as SQLite.Stale.
func (m *Memory) Stale(_ context.Context, n int) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	var stale []*Entry
	for _, e := range m.runs {
		if !e.Done && now.After(e.LeaseUntil) {
			stale = append(stale, e)
		}
	}
	slices.SortFunc(stale, func(a, b *Entry) int { return a.Created.Compare(b.Created) })
	var ids []string
	for _, e := range stale[:min(n, len(stale))] {
		ids = append(ids, e.ID)
	}
	return ids, nil
}

// Unfinished implements the same contract as SQLite.Unfinished.
func (m *Memory) Unfinished(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, e := range m.runs {
		if !e.Done {
			n++
		}
	}
	return n, nil
}

func copyOf(e *Entry) Entry {
	c := *e
	c.State, c.Answer, c.Run = slices.Clone(e.State), slices.Clone(e.Answer), cloneRun(&e.Run)
	return c
}

func cloneRun(r *orchestration.SagaRun) orchestration.SagaRun {
	return orchestration.SagaRun{Records: slices.Clone(r.Records), Direction: r.Direction}
}
