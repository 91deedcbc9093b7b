package orchestration

// Waiting returns how many callers have waited so far on the read of step
// name with key that is in flight, or -1 when none is.
func Waiting(rt *Runtime, name, key string) int {
	sh := rt.flights.shard(name + "\x00" + key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c, ok := sh.calls[name+"\x00"+key]
	if !ok {
		return -1
	}
	return c.waiters
}
