// Package partition splits a key space among a fixed number of owners: the
// Z axis of the scale cube, where each instance of a service keeps only its
// part of the data and a request goes to the owner of its key.
//
// Three schemes share one interface. A list scheme names the keys each
// partition owns (users by country: "list:DE+FR,US+BR,*"); a range scheme
// gives each partition a run of initials (users by surname, the A–D / E–P /
// Q–Z exercise: "range:A-D,E-P,Q-Z"); a hash scheme lets a hash of the key
// decide ("hash:4", jump consistent hashing, so that growing from n to n+1
// partitions moves only the keys the new one must take, about 1/(n+1) of
// them).
//
// A scheme knows keys, not records: which field of a record is its key
// under each kind is the owning service's business.
package partition

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind names a partitioning scheme.
type Kind string

// The kinds of scheme.
const (
	List  Kind = "list"
	Range Kind = "range"
	Hash  Kind = "hash"
)

// Scheme assigns every key to one of a fixed number of partitions,
// numbered from 0.
type Scheme interface {
	// Kind is the scheme's kind.
	Kind() Kind
	// Len is the number of partitions.
	Len() int
	// Name is partition i's name, as a registry entry carries it and
	// _meta reports it: "A-D", "DE+FR", "2".
	Name(i int) string
	// Owner returns the partition that owns key, or an error wrapping
	// ErrNoOwner when no partition does (a country no list names, a
	// surname that does not start with a letter).
	Owner(key string) (int, error)
	// Between returns, in order, the partitions that may own a key k with
	// lo <= k <= hi in the scheme's own order: under a range scheme the
	// partitions whose runs meet [lo, hi]; under a list or hash scheme,
	// which keep no order, the owner of lo when lo == hi and every
	// partition otherwise. An empty bound is open.
	Between(lo, hi string) []int
	// String is the scheme as Parse reads it.
	String() string
}

// ErrNoOwner reports a key that no partition owns.
var ErrNoOwner = errors.New("no partition owns this key")

// ErrSpec reports a scheme that Parse cannot read.
var ErrSpec = errors.New("bad partition scheme")

// MaxPartitions bounds the partitions of one scheme.
const MaxPartitions = 64

// Parse reads a scheme: "list:DE+AT+CH,FR+BE,*" (partitions separated by
// commas, the keys of one by "+", "*" for the partition that owns every key
// no other names), "range:A-D,E-P,Q-Z" (runs of initials that cover A to Z
// in order, without gaps or overlaps) or "hash:N" (2 ≤ N ≤ 64).
func Parse(spec string) (Scheme, error) {
	kind, rest, ok := strings.Cut(spec, ":")
	if !ok || rest == "" {
		return nil, fmt.Errorf("%w %q: want list:…, range:… or hash:N", ErrSpec, spec)
	}
	var (
		s   Scheme
		err error
	)
	switch Kind(kind) {
	case List:
		s, err = parseList(rest)
	case Range:
		s, err = parseRange(rest)
	case Hash:
		s, err = parseHash(rest)
	default:
		return nil, fmt.Errorf("%w %q: unknown kind %q, want list, range or hash", ErrSpec, spec, kind)
	}
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrSpec, spec, err)
	}
	return s, nil
}

// Names returns the names of s's partitions, in order.
func Names(s Scheme) []string {
	out := make([]string, s.Len())
	for i := range out {
		out[i] = s.Name(i)
	}
	return out
}

// Index returns the partition of s named name, or false.
func Index(s Scheme, name string) (int, bool) {
	i := slices.Index(Names(s), name)
	return i, i >= 0
}

// all returns 0, 1, …, n-1.
func all(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// listScheme owns keys by name.
type listScheme struct {
	names    []string       // per partition: its keys joined by "+", or "*"
	owner    map[string]int // key → partition
	fallback int            // the "*" partition, or -1
}

func parseList(rest string) (*listScheme, error) {
	parts := strings.Split(rest, ",")
	if len(parts) < 2 || len(parts) > MaxPartitions {
		return nil, fmt.Errorf("want 2 to %d partitions, got %d", MaxPartitions, len(parts))
	}
	s := &listScheme{owner: map[string]int{}, fallback: -1}
	for i, p := range parts {
		if p == "*" {
			if s.fallback >= 0 {
				return nil, errors.New(`"*" may appear once`)
			}
			s.fallback = i
			s.names = append(s.names, p)
			continue
		}
		for k := range strings.SplitSeq(p, "+") {
			if !validListKey(k) {
				return nil, fmt.Errorf("partition %d: key %q: want letters, digits, '-' or '_', up to 32", i+1, k)
			}
			if j, dup := s.owner[k]; dup {
				return nil, fmt.Errorf("key %q is in partitions %d and %d", k, j+1, i+1)
			}
			s.owner[k] = i
		}
		s.names = append(s.names, p)
	}
	return s, nil
}

func validListKey(k string) bool {
	if k == "" || len(k) > 32 {
		return false
	}
	for _, r := range k {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (s *listScheme) Kind() Kind        { return List }
func (s *listScheme) Len() int          { return len(s.names) }
func (s *listScheme) Name(i int) string { return s.names[i] }
func (s *listScheme) String() string    { return string(List) + ":" + strings.Join(s.names, ",") }

func (s *listScheme) Owner(key string) (int, error) {
	if i, ok := s.owner[key]; ok {
		return i, nil
	}
	if s.fallback >= 0 {
		return s.fallback, nil
	}
	return 0, fmt.Errorf("key %q is in no list of %s: %w", key, s, ErrNoOwner)
}

func (s *listScheme) Between(lo, hi string) []int { return point(s, lo, hi) }

// point is Between for the schemes that keep no order.
func point(s Scheme, lo, hi string) []int {
	if lo != "" && lo == hi {
		if i, err := s.Owner(lo); err == nil {
			return []int{i}
		}
		return nil
	}
	return all(s.Len())
}

// rangeScheme owns keys by their initial letter.
type rangeScheme struct {
	first []byte // per partition: its first initial; the last runs to 'Z'
}

func parseRange(rest string) (*rangeScheme, error) {
	parts := strings.Split(rest, ",")
	if len(parts) < 2 || len(parts) > 26 {
		return nil, fmt.Errorf("want 2 to 26 runs of initials, got %d", len(parts))
	}
	s := &rangeScheme{}
	next := byte('A')
	for i, p := range parts {
		lo, hi, ok := strings.Cut(p, "-")
		if !ok {
			lo, hi = p, p // a run of one initial: "Q"
		}
		if len(lo) != 1 || len(hi) != 1 || !isUpper(lo[0]) || !isUpper(hi[0]) || lo[0] > hi[0] {
			return nil, fmt.Errorf("run %d: %q: want two capitals in order, as A-D", i+1, p)
		}
		if lo[0] != next {
			return nil, fmt.Errorf("run %d: %q: the runs must cover A to Z in order, without gaps or overlaps; want it to start at %c", i+1, p, next)
		}
		s.first = append(s.first, lo[0])
		next = hi[0] + 1
	}
	if next != 'Z'+1 {
		return nil, fmt.Errorf("the runs end at %c: they must cover A to Z", next-1)
	}
	return s, nil
}

func isUpper(b byte) bool { return 'A' <= b && b <= 'Z' }

func (s *rangeScheme) Kind() Kind { return Range }
func (s *rangeScheme) Len() int   { return len(s.first) }

func (s *rangeScheme) last(i int) byte {
	if i+1 < len(s.first) {
		return s.first[i+1] - 1
	}
	return 'Z'
}

func (s *rangeScheme) Name(i int) string {
	if s.first[i] == s.last(i) {
		return string(s.first[i])
	}
	return string(s.first[i]) + "-" + string(s.last(i))
}

func (s *rangeScheme) String() string { return string(Range) + ":" + strings.Join(Names(s), ",") }

// initial returns key's first letter in upper case, or false.
func initial(key string) (byte, bool) {
	r, _ := utf8.DecodeRuneInString(key)
	r = unicode.ToUpper(r)
	if r > unicode.MaxASCII || !isUpper(byte(r)) {
		return 0, false
	}
	return byte(r), true
}

func (s *rangeScheme) Owner(key string) (int, error) {
	c, ok := initial(key)
	if !ok {
		return 0, fmt.Errorf("key %q does not start with a letter A to Z: %w", key, ErrNoOwner)
	}
	return s.of(c), nil
}

// of returns the partition of initial c.
func (s *rangeScheme) of(c byte) int {
	i, found := slices.BinarySearch(s.first, c)
	if !found {
		i--
	}
	return i
}

func (s *rangeScheme) Between(lo, hi string) []int {
	from, to := 0, s.Len()-1
	if c, ok := initial(lo); ok {
		from = s.of(c)
	}
	if c, ok := initial(hi); ok {
		to = s.of(c)
	}
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// hashScheme owns keys by jump consistent hashing of their FNV-1a hash.
type hashScheme struct{ n int }

func parseHash(rest string) (*hashScheme, error) {
	n, err := strconv.Atoi(rest)
	if err != nil || n < 2 || n > MaxPartitions {
		return nil, fmt.Errorf("%q: want a number of partitions from 2 to %d", rest, MaxPartitions)
	}
	return &hashScheme{n: n}, nil
}

func (s *hashScheme) Kind() Kind        { return Hash }
func (s *hashScheme) Len() int          { return s.n }
func (s *hashScheme) Name(i int) string { return strconv.Itoa(i) }
func (s *hashScheme) String() string    { return string(Hash) + ":" + strconv.Itoa(s.n) }

func (s *hashScheme) Owner(key string) (int, error) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return Jump(h.Sum64(), s.n), nil
}

func (s *hashScheme) Between(lo, hi string) []int { return point(s, lo, hi) }

// Jump is Lamping and Veach's jump consistent hash: the bucket in [0, n)
// of key. Growing n to n+1 moves a key only to bucket n, and about one key
// in n+1 moves.
func Jump(key uint64, n int) int {
	var b, j int64 = -1, 0
	for j < int64(n) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}

// The registry meta of an instance that owns a partition: the partition's
// name, and the scheme it is a partition of.
const (
	MetaName   = "partition"
	MetaScheme = "partition_scheme"
)

// Host is the host name that addresses partition i of service in a
// gateway's balancer: "p1.users".
func Host(service string, i int) string { return "p" + strconv.Itoa(i) + "." + service }

// ParseHost reads a Host: the service and the partition, or false for the
// host of a whole service.
func ParseHost(host string) (service string, i int, ok bool) {
	p, service, ok := strings.Cut(host, ".")
	if !ok || len(p) < 2 || p[0] != 'p' {
		return "", 0, false
	}
	i, err := strconv.Atoi(p[1:])
	if err != nil || i < 0 || i >= MaxPartitions {
		return "", 0, false
	}
	return service, i, true
}
