//go:build linux

package main_test

import (
	"os/exec"
	"strings"
	"testing"
)

// layers ranks the tree's parts: a package may import only parts of a
// lower rank (docs/architecture.md, "The tree").
var layers = map[string]int{
	"internal":                0,
	"partition":               0,
	"services/<name>":         1,
	"services/fault":          1,
	"registry":                1,
	"broker":                  1,
	"openapi":                 1,
	"process":                 1,
	"orchestration":           1,
	"deploy":                  1,
	"services":                2,
	"services/instance":       2,
	"orchestration/composite": 3,
	"gateway":                 4,
	"compare":                 5,
	"cmd":                     6,
}

// part names the part of the tree a package path (without the module) is in.
func part(pkg string) string {
	el := strings.Split(pkg, "/")
	switch {
	case len(el) == 1:
		return el[0]
	case el[0] == "orchestration" && el[1] == "composite":
		return "orchestration/composite"
	case el[0] == "services" && (el[1] == "fault" || el[1] == "instance"):
		return "services/" + el[1]
	case el[0] == "services":
		return "services/<name>"
	}
	return el[0]
}

func TestLayers(t *testing.T) {
	const module = "github.com/atrium-bff/atrium/"
	out, err := exec.Command("go", "list", "-f", `{{$p := .ImportPath}}{{range .Imports}}{{$p}} {{.}}{{"\n"}}{{end}}`, "../../...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		from, to, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(to, module) {
			continue
		}
		from, to = strings.TrimPrefix(from, module), strings.TrimPrefix(to, module)
		pf, pt := part(from), part(to)
		rf, okf := layers[pf]
		rt, okt := layers[pt]
		switch {
		case !okf || !okt:
			t.Errorf("%s imports %s: a part of the tree with no layer (%s, %s)", from, to, pf, pt)
		case pf == "services/<name>" && pt == pf && strings.Split(from, "/")[1] != strings.Split(to, "/")[1]:
			t.Errorf("%s imports %s: services never import each other", from, to)
		case pf != pt && rt >= rf:
			t.Errorf("%s (%s, layer %d) imports %s (%s, layer %d): a lower layer may not import a higher one", from, pf, rf, to, pt, rt)
		}
	}
}
