package usershttp_test

import (
	"context"
	"errors"
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
	conformance.Run(t, sides, func(t *testing.T, svc users.Service) {
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
	})
}
