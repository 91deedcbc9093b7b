package composite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/atrium-bff/atrium/orchestration"
)

// Fields selects some of a composite's parts (a sparse fieldset, from
// ?fields=): bit i is part i of its Parts. The zero Fields selects them all.
type Fields uint32

// Parts are the parts of a composite's answer that a client may select,
// each with the steps of the composite's plan that it needs. The steps in
// always run whatever is selected: they decide whether there is an answer
// at all (the product, the user). The parts are keys of the answer, or of
// each element of its array nested ("items" in a listing).
type Parts struct {
	names  []string
	steps  [][]string
	always []string
	nested string
}

// The composites' parts, in the order their answers have them.
var (
	PageParts = &Parts{
		names:  []string{"product", "stock", "rating", "reviews", "recommendations"},
		steps:  [][]string{{"product"}, {"stock"}, {"rating"}, {"reviews"}, {"recommendations", "recommended_products", "recommended_stock"}},
		always: []string{"product"},
	}
	DashboardParts = &Parts{
		names:  []string{"user", "recent_orders", "cart"},
		steps:  [][]string{{"user"}, {"orders", "order_products"}, {"cart", "cart_products"}},
		always: []string{"user"},
	}
	ListingParts = &Parts{
		names:  []string{"stock", "rating"},
		steps:  [][]string{{"stock"}, {"ratings"}},
		always: []string{"products"},
		nested: "items",
	}
)

// Names lists the parts, in the answer's order.
func (p *Parts) Names() []string { return slices.Clone(p.names) }

// Parse reads a comma-separated list of parts ("product,stock"). Every name
// must be a part; the list may not be empty.
func (p *Parts) Parse(list string) (Fields, error) {
	var f Fields
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		i := slices.Index(p.names, name)
		switch {
		case name == "":
			continue
		case i < 0:
			return 0, fmt.Errorf("%q is not a part of this answer: choose from %s", name, strings.Join(p.names, ", "))
		}
		f |= 1 << i
	}
	if f == 0 {
		return 0, fmt.Errorf("fields is empty: name one or more of %s", strings.Join(p.names, ", "))
	}
	return f, nil
}

// Trim leaves out of body, an answer's JSON, the parts f does not select.
func (p *Parts) Trim(body []byte, f Fields) ([]byte, error) {
	if f == 0 {
		return body, nil
	}
	drop := func(key string) bool {
		i := slices.Index(p.names, key)
		return i >= 0 && f&(1<<i) == 0
	}
	if p.nested == "" {
		return trimObject(body, drop, nil)
	}
	return trimObject(body, func(string) bool { return false }, func(key string, v []byte) ([]byte, error) {
		if key != p.nested || bytes.Equal(v, []byte("null")) {
			return v, nil
		}
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			return nil, fmt.Errorf("trim %s: %w", key, err)
		}
		for i, item := range items {
			t, err := trimObject(item, drop, nil)
			if err != nil {
				return nil, err
			}
			items[i] = t
		}
		return json.Marshal(items)
	})
}

// trimObject copies the JSON object obj without the keys drop names, in
// its order, passing each value kept through inner when there is one.
func trimObject(obj []byte, drop func(key string) bool, inner func(key string, v []byte) ([]byte, error)) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("trim: not a JSON object (%v)", err)
	}
	out := make([]byte, 0, len(obj))
	out = append(out, '{')
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("trim: %w", err)
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("trim %s: %w", key, err)
		}
		if drop(key) {
			continue
		}
		if inner != nil {
			if v, err = inner(key, v); err != nil {
				return nil, err
			}
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(key)
		out = append(append(append(out, k...), ':'), v...)
	}
	return append(out, '}'), nil
}

// sparse is a composite's plan for each selection of its parts, indexed by
// Fields: [0], every part, is the whole plan.
type sparse[S any] []*orchestration.Plan[S]

func sparsePlans[S any](full *orchestration.Plan[S], parts *Parts) sparse[S] {
	plans := make(sparse[S], 1<<len(parts.names))
	plans[0] = full
	for f := 1; f < len(plans); f++ {
		names := slices.Clone(parts.always)
		for i, steps := range parts.steps {
			if f&(1<<i) != 0 {
				names = append(names, steps...)
			}
		}
		p, err := full.Only(names...)
		if err != nil {
			panic(err) // the parts name steps the plan does not have: a bug that every test finds
		}
		plans[f] = p
	}
	return plans
}

// Sparse is an answer some of whose parts a client may leave out:
// Trim removes those it left out from its JSON.
type Sparse interface {
	Trim(body []byte) ([]byte, error)
}

// Trim leaves out the parts the page was not asked for.
func (p ProductPage) Trim(body []byte) ([]byte, error) { return PageParts.Trim(body, p.fields) }

// Trim leaves out the parts the dashboard was not asked for.
func (d Dashboard) Trim(body []byte) ([]byte, error) { return DashboardParts.Trim(body, d.fields) }

// Trim leaves out the parts of each item the listing was not asked for.
func (l Listing) Trim(body []byte) ([]byte, error) { return ListingParts.Trim(body, l.fields) }
