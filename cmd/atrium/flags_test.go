package main

import (
	"flag"
	"fmt"
	"strings"
	"testing"
)

// TestOneMeaningPerEnvironmentVariable: a flag is read from ATRIUM_ and its
// name (ff's derivation), which its usage names; a name that several
// subcommands take is of one type in all of them (its default may differ:
// a service's --nats has no embedded broker to default to), so that one
// environment variable cannot mean different things to two of them.
func TestOneMeaningPerEnvironmentVariable(t *testing.T) {
	type seen struct {
		cmd, kind string
	}
	first := map[string]seen{}
	for _, cmd := range root().Subcommands {
		cmd.FlagSet.VisitAll(func(f *flag.Flag) {
			env := "ATRIUM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
			if !strings.Contains(f.Usage, "(env "+env) {
				t.Errorf("atrium %s --%s: the usage does not name %s: %q", cmd.Name, f.Name, env, f.Usage)
			}
			s := seen{cmd.Name, fmt.Sprintf("%T", f.Value)}
			if prev, ok := first[f.Name]; !ok {
				first[f.Name] = s
			} else if prev.kind != s.kind {
				t.Errorf("%s: %s in atrium %s, %s in atrium %s", env, prev.kind, prev.cmd, s.kind, s.cmd)
			}
		})
	}
	if len(first) < 20 {
		t.Errorf("only %d flags: the walk missed the subcommands", len(first))
	}
}
