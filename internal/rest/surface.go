package rest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// Access says who may call a route of a service from outside, through the
// gateway's API proxy. Inside, the gateway and the services call every
// route with their service credentials.
type Access uint8

// The kinds of access.
const (
	// Internal routes are service-to-service: from outside, a read (GET)
	// needs the admin credential and a write is never forwarded.
	Internal Access = iota
	// Public routes are open to anyone; they carry no personal data.
	Public
	// Owner routes are a user's own: they need the session of the user that
	// the route's :user parameter names (or the admin credential).
	Owner
)

func (a Access) String() string {
	switch a {
	case Public:
		return "public"
	case Owner:
		return "owner"
	}
	return "internal"
}

// Route is one route of a service, in echo's notation (/products/:id), and
// who may call it from outside.
type Route struct {
	Method string
	Path   string
	Access Access
}

// OwnerParam is the path parameter that names the user of an Owner route.
const OwnerParam = "user"

// Surface is every route a service serves, each with its access. A
// service declares it next to its routes; NewHandler refuses a handler
// whose routes differ from it, so the two cannot drift apart.
type Surface []Route

// Match returns the route of s that serves method on path (the path of the
// service, escaped, such as /products/p001), and the value of its :user
// parameter if it has one. A path with a dot segment matches nothing.
func (s Surface) Match(method, path string) (Route, string, bool) {
	path = strings.TrimPrefix(path, "/")
	for rest := path; ; {
		seg, after, more := strings.Cut(rest, "/")
		if seg == ".." || seg == "." {
			return Route{}, "", false
		}
		if !more {
			break
		}
		rest = after
	}
	for _, r := range s {
		if r.Method != method {
			continue
		}
		if user, ok := match(strings.TrimPrefix(r.Path, "/"), path); ok {
			return r, user, true
		}
	}
	return Route{}, "", false
}

// match compares a route's segments with a path's, one by one (a request
// allocates nothing here), returning the :user segment.
func match(route, path string) (string, bool) {
	user := ""
	for {
		rseg, rrest, rmore := strings.Cut(route, "/")
		pseg, prest, pmore := strings.Cut(path, "/")
		switch {
		case strings.HasPrefix(rseg, ":"):
			if pseg == "" {
				return "", false
			}
			if rseg[1:] == OwnerParam {
				user = pseg
			}
		case rseg != pseg:
			return "", false
		}
		if rmore != pmore {
			return "", false
		}
		if !rmore {
			return user, true
		}
		route, path = rrest, prest
	}
}

// check returns an error naming the routes of e that s does not declare,
// and those s declares that e does not serve, and Owner routes without a
// :user parameter.
func (s Surface) check(e *echo.Echo) error {
	served := map[string]bool{}
	var problems []string
	for _, r := range e.Routes() {
		key := r.Method + " " + r.Path
		served[key] = true
		if !slices.ContainsFunc(s, func(d Route) bool { return d.Method == r.Method && d.Path == r.Path }) {
			problems = append(problems, "undeclared "+key)
		}
	}
	for _, d := range s {
		if !served[d.Method+" "+d.Path] {
			problems = append(problems, "declared but not served "+d.Method+" "+d.Path)
		}
		if d.Access == Owner && !strings.Contains(d.Path+"/", "/:"+OwnerParam+"/") {
			problems = append(problems, "owner route without :"+OwnerParam+" "+d.Method+" "+d.Path)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("surface: %s", strings.Join(problems, "; "))
	}
	return nil
}
