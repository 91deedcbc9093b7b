package partition

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
)

func mustParse(t *testing.T, spec string) Scheme {
	t.Helper()
	s, err := Parse(spec)
	if err != nil {
		t.Fatalf("Parse(%q): %v", spec, err)
	}
	return s
}

func TestParseRefusesBadSchemes(t *testing.T) {
	for _, spec := range []string{
		"", "range", "range:", "mod:4", "hash:1", "hash:65", "hash:x", "hash:-2",
		"range:A-D", "range:A-D,F-Z", "range:A-E,E-Z", "range:B-M,N-Z", "range:A-M,N-Y", "range:A-D,E-P,Q-Z,",
		"range:a-m,n-z", "range:M-A,B-Z", "range:AB-M,N-Z",
		"list:DE", "list:DE,DE", "list:DE+FR,FR", "list:*,*", "list:DE,,FR", "list:DE+,FR", "list:D E,FR",
	} {
		if s, err := Parse(spec); !errors.Is(err, ErrSpec) {
			t.Errorf("Parse(%q) = %v, %v; want ErrSpec", spec, s, err)
		}
	}
}

func TestSchemesNameTheirPartitions(t *testing.T) {
	for spec, want := range map[string][]string{
		"range:A-D,E-P,Q-Z": {"A-D", "E-P", "Q-Z"},
		"range:A-M,N,O-Z":   {"A-M", "N", "O-Z"},
		"list:DE+AT,US,*":   {"DE+AT", "US", "*"},
		"hash:3":            {"0", "1", "2"},
	} {
		s := mustParse(t, spec)
		var got []string
		for i := range s.Len() {
			got = append(got, s.Name(i))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: names %v, want %v", spec, got, want)
		}
		if s.String() != spec {
			t.Errorf("%s: String() = %q", spec, s.String())
		}
	}
}

func TestOwners(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		owner map[string]int // key → partition; -1: no owner
	}{
		{"range:A-D,E-P,Q-Z", map[string]int{
			"Lovelace": 1, "Costa": 0, "Ada": 0, "dubois": 0, "Dubois": 0, "Elena": 1, "Park": 1, "Quentin": 2,
			"Zed": 2, "zed": 2, "": -1, "1st": -1, "Ørsted": -1, "-": -1,
		}},
		{"list:DE+AT+CH,FR+BE,US", map[string]int{"DE": 0, "CH": 0, "BE": 1, "US": 2, "JP": -1, "de": -1, "": -1}},
		{"list:DE,*,US", map[string]int{"DE": 0, "US": 2, "JP": 1, "": 1}},
	} {
		s := mustParse(t, tc.spec)
		for key, want := range tc.owner {
			got, err := s.Owner(key)
			if want < 0 {
				if !errors.Is(err, ErrNoOwner) {
					t.Errorf("%s: Owner(%q) = %d, %v; want ErrNoOwner", tc.spec, key, got, err)
				}
				continue
			}
			if err != nil || got != want {
				t.Errorf("%s: Owner(%q) = %d, %v; want %d", tc.spec, key, got, err, want)
			}
		}
	}
}

func TestBetween(t *testing.T) {
	r := mustParse(t, "range:A-D,E-P,Q-Z")
	for _, tc := range []struct {
		lo, hi string
		want   []int
	}{
		{"E", "Q", []int{1, 2}}, // the "surnames between E and Q"
		{"Fa", "Mz", []int{1}},
		{"a", "d", []int{0}},
		{"", "", []int{0, 1, 2}},
		{"R", "", []int{2}},
		{"", "B", []int{0}},
		{"Q", "E", nil}, // an empty interval
	} {
		if got := r.Between(tc.lo, tc.hi); !slices.Equal(got, tc.want) {
			t.Errorf("range Between(%q, %q) = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
	h := mustParse(t, "hash:4")
	owner, _ := h.Owner("u07")
	if got := h.Between("u07", "u07"); !slices.Equal(got, []int{owner}) {
		t.Errorf("hash Between(u07, u07) = %v, want [%d]", got, owner)
	}
	if got := h.Between("u01", "u09"); len(got) != 4 {
		t.Errorf("hash Between over an interval = %v, want every partition", got)
	}
	l := mustParse(t, "list:DE,FR")
	if got := l.Between("JP", "JP"); len(got) != 0 {
		t.Errorf("list Between(JP, JP) = %v, want none: no partition owns JP", got)
	}
}

// TestHashSpreadsKeysEvenly checks that every partition gets its share.
func TestHashSpreadsKeysEvenly(t *testing.T) {
	const keys = 100_000
	for _, n := range []int{2, 3, 4, 7, 16} {
		s := mustParse(t, fmt.Sprintf("hash:%d", n))
		count := make([]int, n)
		for k := range keys {
			i, err := s.Owner(fmt.Sprintf("u%06d", k))
			if err != nil {
				t.Fatal(err)
			}
			count[i]++
		}
		for i, c := range count {
			if share := float64(c) / keys; math.Abs(share-1/float64(n)) > 0.01 {
				t.Errorf("hash:%d: partition %d holds %.3f of the keys, want %.3f ± 0.01", n, i, share, 1/float64(n))
			}
		}
	}
}

// TestHashGrowthMovesOnlyWhatItMust: growing from n to n+1 partitions
// moves a key only to the new partition, and about 1/(n+1) of them; a
// modulo hash would move about n/(n+1).
func TestHashGrowthMovesOnlyWhatItMust(t *testing.T) {
	const keys = 100_000
	for n := 2; n <= 8; n++ {
		before, after := mustParse(t, fmt.Sprintf("hash:%d", n)), mustParse(t, fmt.Sprintf("hash:%d", n+1))
		moved, modMoved := 0, 0
		for k := range keys {
			key := fmt.Sprintf("u%06d", k)
			a, _ := before.Owner(key)
			b, _ := after.Owner(key)
			if a != b {
				moved++
				if b != n {
					t.Fatalf("hash:%d→%d: %s moved from %d to %d, not to the new partition", n, n+1, key, a, b)
				}
			}
			if k%n != k%(n+1) {
				modMoved++
			}
		}
		theory := 1 / float64(n+1)
		if share := float64(moved) / keys; math.Abs(share-theory) > 0.01 {
			t.Errorf("hash:%d→%d moved %.4f of the keys, theory %.4f", n, n+1, share, theory)
		}
		if moved*2 > modMoved {
			t.Errorf("hash:%d→%d moved %d keys, a modulo hash %d: want far fewer", n, n+1, moved, modMoved)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"range:A-D,E-P,Q-Z", "list:DE+AT,*", "hash:4", "range:A,B-Z", "list:a,b"} {
		f.Add(s, "Lovelace")
	}
	f.Fuzz(func(t *testing.T, spec, key string) {
		s, err := Parse(spec)
		if err != nil {
			return
		}
		again, err := Parse(s.String())
		if err != nil || again.String() != s.String() {
			t.Fatalf("%q parses to %q, which reads back as %v, %v", spec, s, again, err)
		}
		if i, err := s.Owner(key); err == nil && (i < 0 || i >= s.Len()) {
			t.Fatalf("%s: Owner(%q) = %d of %d", s, key, i, s.Len())
		}
		if key == "" {
			return // an open interval
		}
		for _, i := range s.Between(key, key) {
			if o, err := s.Owner(key); err == nil && o != i {
				t.Fatalf("%s: Between(%q, %q) = %d, Owner %d", s, key, key, i, o)
			}
		}
	})
}

func TestHosts(t *testing.T) {
	if h := Host("users", 2); h != "p2.users" {
		t.Errorf("Host = %q", h)
	}
	if s, i, ok := ParseHost("p2.users"); !ok || s != "users" || i != 2 {
		t.Errorf("ParseHost(p2.users) = %q, %d, %v", s, i, ok)
	}
	for _, h := range []string{"users", "p.users", "px.users", "q1.users", "p-1.users", "p64.users"} {
		if _, _, ok := ParseHost(h); ok {
			t.Errorf("ParseHost(%q) ok, want false", h)
		}
	}
}
