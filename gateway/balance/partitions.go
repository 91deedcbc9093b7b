package balance

import (
	"github.com/atrium-bff/atrium/partition"
	"github.com/atrium-bff/atrium/registry"
)

// Partitions resolves the host of a partition of a service, "p1.users"
// (partition.Host), to the instances of that service that own it: those
// whose registry entries name that partition of that very scheme
// (partition.MetaName, partition.MetaScheme). Any other host resolves as
// Resolver does. An instance of another scheme is nobody's: a gateway and
// its instances that disagree answer 503 rather than from the wrong data.
type Partitions struct {
	Resolver
	// Schemes are the partitioned services' schemes, by service.
	Schemes map[string]partition.Scheme
}

// Instances implements Resolver.
func (p Partitions) Instances(host string) []registry.Instance {
	service, i, ok := partition.ParseHost(host)
	if !ok {
		return whole(p.Resolver.Instances(host))
	}
	scheme := p.Schemes[service]
	if scheme == nil || i >= scheme.Len() {
		return nil
	}
	name, spec := scheme.Name(i), scheme.String()
	var out []registry.Instance
	for _, inst := range p.Resolver.Instances(service) {
		if inst.Meta[partition.MetaName] == name && inst.Meta[partition.MetaScheme] == spec {
			out = append(out, inst)
		}
	}
	return out
}

// Missing returns, of hosts, those that resolve to no instance, named for
// a reader: "users partition E-P" for a partition's host.
func (p Partitions) Missing(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		if len(p.Instances(h)) > 0 {
			continue
		}
		if service, i, ok := partition.ParseHost(h); ok && p.Schemes[service] != nil && i < p.Schemes[service].Len() {
			h = service + " partition " + p.Schemes[service].Name(i)
		}
		out = append(out, h)
	}
	return out
}

// whole returns the instances of pool that own no partition; pool itself,
// without a copy, when none does.
func whole(pool []registry.Instance) []registry.Instance {
	for k, inst := range pool {
		if inst.Meta[partition.MetaName] == "" {
			continue
		}
		out := append([]registry.Instance(nil), pool[:k]...)
		for _, inst := range pool[k+1:] {
			if inst.Meta[partition.MetaName] == "" {
				out = append(out, inst)
			}
		}
		return out
	}
	return pool
}
