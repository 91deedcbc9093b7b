package usershttp_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/atrium-bff/atrium/internal/conformance"
	"github.com/atrium-bff/atrium/services/users"
	"github.com/atrium-bff/atrium/services/users/usershttp"
)

var sides = conformance.Sides[users.Service]{
	New:     func(*testing.T) users.Service { return users.New() },
	Handler: usershttp.NewHandler,
	Client:  func(u string) users.Service { return usershttp.NewClient(u) },
}

func TestConformance(t *testing.T) {
	conformance.Run(t, sides, suite)
}

// suite is what every users Service does, whole or partitioned.
func suite(t *testing.T, svc users.Service) {
	ctx := context.Background()
	u, err := svc.User(ctx, "u01")
	if err != nil || u.ID != "u01" || u.Name == "" || len(u.Country) != 2 {
		t.Fatalf("User(u01) = %+v, %v", u, err)
	}
	all := make([]string, 0, 20)
	for i := 1; i <= 20; i++ {
		all = append(all, "u"+string(rune('0'+i/10))+string(rune('0'+i%10)))
	}
	us, err := svc.Users(ctx, append(all, "u99"))
	if err != nil || len(us) != 20 {
		t.Fatalf("Users(u01..u20, u99) = %d users, %v; want 20", len(us), err)
	}
	countries := map[string]bool{}
	for _, u := range us {
		countries[u.Country] = true
	}
	if len(countries) < 4 {
		t.Errorf("seed users come from %d countries, want several", len(countries))
	}
	if who, err := svc.Authenticate(ctx, "Ada.Lovelace@example.com", "atrium-u01"); err != nil || who.ID != "u01" {
		t.Errorf("Authenticate(u01's credentials) = %+v, %v", who, err)
	}
	for _, bad := range [][2]string{{"ada.lovelace@example.com", "atrium-u02"}, {"nobody@example.com", "atrium-u01"}} {
		if _, err := svc.Authenticate(ctx, bad[0], bad[1]); !errors.Is(err, users.ErrBadCredentials) {
			t.Errorf("Authenticate(%v) err = %v, want ErrBadCredentials", bad, err)
		}
	}
	if _, err := svc.Authenticate(ctx, "", ""); !errors.Is(err, users.ErrInvalid) {
		t.Errorf("Authenticate with nothing: err = %v, want ErrInvalid", err)
	}
	if _, err := svc.User(ctx, "u99"); !errors.Is(err, users.ErrNotFound) {
		t.Errorf("User(u99) err = %v, want ErrNotFound", err)
	}
	if _, err := svc.User(ctx, "admin"); !errors.Is(err, users.ErrInvalid) {
		t.Errorf("User(admin) err = %v, want ErrInvalid", err)
	}
	found, err := svc.Find(ctx, users.Query{SurnameFrom: "e", SurnameTo: "Q"})
	if err != nil || found.Partial || !slices.Equal(surnames(found.Users), strings.Fields("GARCIA KIM LEE LOPEZ LOVELACE MARTIN MILLER MOREAU NOVAK PARK")) {
		t.Errorf("Find(surnames E to Q) = %v, %+v, %v", surnames(found.Users), found, err)
	}
	found, err = svc.Find(ctx, users.Query{SurnameTo: "D", Countries: []string{"IT", "ES", "US"}})
	if err != nil || !slices.Equal(surnames(found.Users), strings.Fields("BIANCHI BROWN DUBOIS")) {
		t.Errorf("Find(surnames to D in IT, ES, US) = %v, %v", surnames(found.Users), err)
	}
	if found, err := svc.Find(ctx, users.Query{Countries: []string{"ZZ"}}); err != nil || len(found.Users) != 0 || found.Users == nil {
		t.Errorf("Find(country ZZ) = %+v, %v; want an empty list", found, err)
	}
	for _, bad := range []users.Query{{SurnameFrom: "O'Brien"}, {Countries: []string{"de"}}, {Countries: []string{"DEU"}}} {
		if _, err := svc.Find(ctx, bad); !errors.Is(err, users.ErrInvalid) {
			t.Errorf("Find(%+v) err = %v, want ErrInvalid", bad, err)
		}
	}
}

func surnames(us []users.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = users.Surname(u)
	}
	return out
}
