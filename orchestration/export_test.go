package orchestration

// Waiting returns how many callers have waited so far on the read of step
// name with key that is in flight, or -1 when none is.
func Waiting(rt *Runtime, name, key string) int {
	rt.flights.mu.Lock()
	defer rt.flights.mu.Unlock()
	c, ok := rt.flights.calls[name+"\x00"+key]
	if !ok {
		return -1
	}
	return c.waiters
}
