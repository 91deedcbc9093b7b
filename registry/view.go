package registry

import (
	"cmp"
	"maps"
	"slices"
	"sync/atomic"
)

// View is a process's picture of the live instances, as an engine that
// watches a shared store (etcd, Consul) keeps it: read without a lock on
// every request, replaced whole on every change. The zero value is empty.
type View struct {
	snap  atomic.Pointer[map[string][]Instance] // service → instances by id
	OnNew func(Instance)                        // told of each instance a Publish adds, if not nil
}

// Publish makes insts the view, and tells OnNew of the instances it adds.
func (v *View) Publish(insts []Instance) {
	next := map[string][]Instance{}
	for _, inst := range insts {
		next[inst.Service] = append(next[inst.Service], inst)
	}
	for _, list := range next {
		slices.SortFunc(list, func(a, b Instance) int { return cmp.Compare(a.ID, b.ID) })
	}
	old := v.snap.Swap(&next)
	if v.OnNew == nil {
		return
	}
	for _, inst := range insts {
		if old == nil || !slices.ContainsFunc((*old)[inst.Service], func(i Instance) bool { return i.ID == inst.ID }) {
			v.OnNew(inst)
		}
	}
}

func (v *View) load() map[string][]Instance {
	if s := v.snap.Load(); s != nil {
		return *s
	}
	return nil
}

// Instances returns a service's instances, ordered by id. The slice is
// shared: callers must not modify it.
func (v *View) Instances(service string) []Instance { return v.load()[service] }

// All returns every instance, ordered by service then id.
func (v *View) All() []Instance {
	snap := v.load()
	out := []Instance{}
	for _, name := range slices.Sorted(maps.Keys(snap)) {
		out = append(out, snap[name]...)
	}
	return out
}

// Service returns the service of instance id.
func (v *View) Service(id string) (string, bool) {
	for service, insts := range v.load() {
		if slices.ContainsFunc(insts, func(i Instance) bool { return i.ID == id }) {
			return service, true
		}
	}
	return "", false
}
