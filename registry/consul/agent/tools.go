//go:build tools

// Package agent builds the Consul agent that make test-consul runs the
// registry's conformance against: Consul has no Debian package, and a
// download is not possible here, so it is built from its module source, at
// the version this module pins (its nested modules are served by the Go
// module proxy at this release; at v1.21.5 two of them are not).
package agent

import _ "github.com/hashicorp/consul"
