package domain_test

import (
	"regexp"
	"testing"

	"github.com/atrium-bff/atrium/internal/domain"
)

// The validators agree with the patterns the API documents.
var documented = []struct {
	pattern *regexp.Regexp
	valid   func(string) bool
}{
	{regexp.MustCompile(`^p[0-9]{3,8}$`), domain.ValidProductID},
	{regexp.MustCompile(`^u[0-9]{2,8}$`), domain.ValidUserID},
	{regexp.MustCompile(`^res-[0-9]{1,12}$`), func(s string) bool { return domain.Numbered(s, "res-", 1, 12) }},
	{regexp.MustCompile(`^[\x21-\x7e]{1,200}$`), domain.ValidKey},
}

func FuzzValidatorsMatchTheirPatterns(f *testing.F) {
	for _, s := range []string{"p001", "p12345678", "p123456789", "p01", "u01", "u1", "res-", "res-1", "P001", "p00a", "p 001", "", "k\x7f", "ключ", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range documented {
			if got, want := d.valid(s), d.pattern.MatchString(s); got != want {
				t.Errorf("%q: validator says %v, %s says %v", s, got, d.pattern, want)
			}
		}
	})
}
