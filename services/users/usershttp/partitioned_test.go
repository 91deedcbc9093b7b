package usershttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/atrium-bff/atrium/partition"
	"github.com/atrium-bff/atrium/services/users"
	"github.com/atrium-bff/atrium/services/users/usershttp"
)

// partitions serves each partition of scheme over HTTP, as its own
// instance would, and returns the users Service over them and the count of
// requests each partition served.
func partitions(t *testing.T, spec string) (users.Service, []*atomic.Int64, []*httptest.Server) {
	t.Helper()
	scheme, err := partition.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := users.CheckSeed(scheme); err != nil {
		t.Fatal(err)
	}
	parts := make([]users.Service, scheme.Len())
	counts := make([]*atomic.Int64, scheme.Len())
	servers := make([]*httptest.Server, scheme.Len())
	for i := range parts {
		h := usershttp.NewHandler(users.NewPart(users.Partition(scheme, i)))
		counts[i] = new(atomic.Int64)
		servers[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			counts[i].Add(1)
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(servers[i].Close)
		parts[i] = usershttp.NewClient(servers[i].URL)
	}
	return users.Partitioned(scheme, parts), counts, servers
}

var schemes = []string{"range:A-D,E-P,Q-Z", "list:DE+FR+IT+ES,US+BR,*", "hash:3"}

// TestPartitionedConformance: partitioned over instances of their own,
// the users service answers exactly as one whole service does.
func TestPartitionedConformance(t *testing.T) {
	for _, spec := range schemes {
		t.Run(spec, func(t *testing.T) {
			svc, _, _ := partitions(t, spec)
			suite(t, svc)
		})
	}
}

func TestEachPartitionKeepsOnlyItsUsers(t *testing.T) {
	scheme, _ := partition.Parse("range:A-D,E-P,Q-Z")
	ctx := context.Background()
	for i, want := range [][]string{{"BIANCHI", "BROWN", "COSTA", "DUBOIS"}, nil, {"ROSSI", "SATO", "SCHMIDT", "SILVA", "TANAKA", "WEBER"}} {
		found, err := users.NewPart(users.Partition(scheme, i)).Find(ctx, users.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if got := surnames(found.Users); want != nil && !slices.Equal(got, want) || want == nil && len(got) != 10 {
			t.Errorf("partition %s holds %v", scheme.Name(i), got)
		}
	}
	if _, err := users.NewPart(users.Partition(scheme, 0)).User(ctx, "u01"); !errors.Is(err, users.ErrNotFound) {
		t.Errorf("partition A-D has Lovelace (u01): %v", err)
	}
}

// TestQueriesGoToTheOwnersOnly counts the requests each partition serves.
func TestQueriesGoToTheOwnersOnly(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		spec string
		call func(users.Service) error
		want []int64 // requests per partition
	}{
		{"range:A-D,E-P,Q-Z", func(s users.Service) error {
			_, err := s.Find(ctx, users.Query{SurnameFrom: "E", SurnameTo: "Q"})
			return err
		}, []int64{0, 1, 1}},
		{"range:A-D,E-P,Q-Z", func(s users.Service) error {
			_, err := s.Find(ctx, users.Query{SurnameFrom: "F", SurnameTo: "M"})
			return err
		}, []int64{0, 1, 0}},
		{"list:DE+FR+IT+ES,US+BR,*", func(s users.Service) error {
			_, err := s.Find(ctx, users.Query{Countries: []string{"US", "BR"}})
			return err
		}, []int64{0, 1, 0}},
		{"list:DE+FR+IT+ES,US+BR,*", func(s users.Service) error {
			_, err := s.Find(ctx, users.Query{Countries: []string{"JP", "FR"}})
			return err
		}, []int64{1, 0, 1}},
		{"hash:3", func(s users.Service) error { // the id is the key: its owner only
			_, err := s.User(ctx, "u07")
			return err
		}, nil},
	} {
		svc, counts, _ := partitions(t, tc.spec)
		if err := tc.call(svc); err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		got := make([]int64, len(counts))
		for i, c := range counts {
			got[i] = c.Load()
		}
		want := tc.want
		if want == nil {
			scheme, _ := partition.Parse(tc.spec)
			owner, _ := scheme.Owner("u07")
			want = make([]int64, scheme.Len())
			want[owner] = 1
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: requests per partition %v, want %v", tc.spec, got, want)
		}
	}
}

// TestAPartitionDownFailsOnlyItsKeys: with one partition's instance gone,
// its users fail with a partition_unavailable naming it, the others' users
// are served, and a query that needs it is partial.
func TestAPartitionDownFailsOnlyItsKeys(t *testing.T) {
	ctx := context.Background()
	svc, _, servers := partitions(t, "range:A-D,E-P,Q-Z")
	servers[2].Close() // Q-Z: Rossi (u05), Weber (u06), …
	if u, err := svc.User(ctx, "u01"); err != nil || u.ID != "u01" {
		t.Errorf("Lovelace, in E-P: %+v, %v", u, err)
	}
	var down *partition.UnavailableError
	if _, err := svc.User(ctx, "u05"); !errors.As(err, &down) || down.Partition != "Q-Z" || down.Service != "users" {
		t.Errorf("Rossi, in the partition that is down: err = %v, want partition Q-Z unavailable", err)
	}
	if _, err := svc.User(ctx, "u99"); !errors.As(err, &down) {
		t.Errorf("an unknown user while a partition is down: err = %v, want unavailable (it may be there)", err)
	}
	found, err := svc.Find(ctx, users.Query{SurnameFrom: "M"})
	if err != nil || !found.Partial || !slices.Equal(surnames(found.Users), []string{"MARTIN", "MILLER", "MOREAU", "NOVAK", "PARK"}) {
		t.Fatalf("Find(from M) = %+v, %v; want E-P's users, partial", found, err)
	}
	if len(found.Partitions) != 2 || found.Partitions[0].Error != "" || found.Partitions[1].Partition != "Q-Z" || found.Partitions[1].Error == "" {
		t.Errorf("partitions = %+v, want E-P answered and Q-Z not", found.Partitions)
	}
	if _, err := svc.Find(ctx, users.Query{SurnameFrom: "S"}); !errors.As(err, &down) {
		t.Errorf("a query only Q-Z can answer: err = %v, want unavailable", err)
	}
	if found, err := svc.Find(ctx, users.Query{SurnameTo: "C"}); err != nil || found.Partial || len(found.Users) != 3 {
		t.Errorf("a query A-D answers alone: %+v, %v", found, err)
	}
	if u, err := svc.Authenticate(ctx, "ada.lovelace@example.com", "atrium-u01"); err != nil || u.ID != "u01" {
		t.Errorf("a login in E-P: %+v, %v", u, err)
	}
	if _, err := svc.Authenticate(ctx, "nobody@example.com", "x"); !errors.As(err, &down) {
		t.Errorf("a login no partition that answered knows: err = %v, want unavailable, not bad credentials", err)
	}
}
