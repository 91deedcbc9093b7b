package orchestration

import (
	"sync"
	"time"
)

// Invalidate drops every cached value tagged tag (Fetch.Tags): the next
// read of it goes to its service. A read in flight when Invalidate runs
// is not cached when it ends, since it may carry what tag's change made
// stale.
func (rt *Runtime) Invalidate(tag string) {
	for _, key := range rt.tags.take(tag) {
		rt.cache.Delete(key)
	}
}

// store caches v under key for ttl with its tags, unless something was
// invalidated since the read began (at generation gen).
func (rt *Runtime) store(key string, v cached, ttl time.Duration, tags []string, gen uint64) {
	if !rt.tags.add(key, tags, gen) {
		return
	}
	rt.cache.Set(key, v, ttl)
}

// tags indexes the cache's keys by tag.
type tags struct {
	mu   sync.Mutex
	gen  uint64                         // how many invalidations so far
	keys map[string]map[string]struct{} // tag → the keys it tags
	of   map[string][]string            // key → its tags
}

func (t *tags) generation() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.gen
}

// add records key's tags, and reports whether the value may be cached: no
// invalidation ran since generation gen.
func (t *tags) add(key string, tags []string, gen uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen != gen {
		return false
	}
	if len(tags) == 0 {
		return true
	}
	if t.keys == nil {
		t.keys, t.of = map[string]map[string]struct{}{}, map[string][]string{}
	}
	for _, tag := range tags {
		if t.keys[tag] == nil {
			t.keys[tag] = map[string]struct{}{}
		}
		t.keys[tag][key] = struct{}{}
	}
	t.of[key] = tags
	return true
}

// forget drops key from the index (the cache let it go).
func (t *tags) forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tag := range t.of[key] {
		delete(t.keys[tag], key)
		if len(t.keys[tag]) == 0 {
			delete(t.keys, tag)
		}
	}
	delete(t.of, key)
}

// take returns the keys tag tags and starts a new generation.
func (t *tags) take(tag string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gen++
	out := make([]string, 0, len(t.keys[tag]))
	for key := range t.keys[tag] {
		out = append(out, key)
	}
	return out
}
