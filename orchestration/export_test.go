package orchestration

// Waiting returns how many callers have waited so far on the read of step
// name with key that is in flight, or -1 when none is.
func Waiting(rt *Runtime, name, key string) int {
	k := flightKey{name, key}
	sh := rt.flights.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c, ok := sh.calls[k]
	if !ok {
		return -1
	}
	return c.waiters
}
