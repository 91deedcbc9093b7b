// Package seed loads the deterministic seed data each service ships
// embedded in the binary, and picks the records a batch read asks for.
package seed

import (
	"encoding/json"
	"fmt"
)

// Load decodes a service's embedded seed into a T. A malformed seed is a
// build defect, which every test of that service catches, so Load panics.
func Load[T any](service string, data []byte) T {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		panic(fmt.Sprintf("%s: bad embedded seed: %v", service, err))
	}
	return v
}

// Pick returns the records of ids that lookup finds, in the order of ids.
// A malformed id (valid says no) fails the whole batch with errInvalid.
func Pick[T any](ids []string, valid func(string) bool, errInvalid error, lookup func(string) (T, bool)) ([]T, error) {
	out := make([]T, 0, len(ids))
	for _, id := range ids {
		if !valid(id) {
			return nil, fmt.Errorf("malformed id %q: %w", id, errInvalid)
		}
		if v, ok := lookup(id); ok {
			out = append(out, v)
		}
	}
	return out, nil
}
