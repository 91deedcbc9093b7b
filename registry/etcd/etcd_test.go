package etcd_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/atrium-bff/atrium/internal/testkit"
	"github.com/atrium-bff/atrium/registry"
	"github.com/atrium-bff/atrium/registry/etcd"
	"github.com/atrium-bff/atrium/registry/registrytest"
)

// TestConformance runs the registry suite against a real etcd, each case
// on a server of its own.
func TestConformance(t *testing.T) {
	registrytest.Run(t, func(t *testing.T, ttl time.Duration) (registry.Engine, func() registry.Engine) {
		url := testkit.Etcd(t)
		open := func() registry.Engine {
			r, err := etcd.New(context.Background(), etcd.Config{Endpoints: []string{url}, TTL: ttl, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			return r
		}
		return open(), open
	})
}

// TestWhatReachesEtcdIsCheckedBeforeItIsRouted: an instance written to
// etcd by someone else, outside the networks instances may be in, is left
// out of the view; a valid one beside it is in.
func TestWhatReachesEtcdIsCheckedBeforeItIsRouted(t *testing.T) {
	url := testkit.Etcd(t)
	r, err := etcd.New(context.Background(), etcd.Config{Endpoints: []string{url}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	raw, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for k, v := range map[string]string{
		etcd.Prefix + "catalog/evil":  `{"id":"evil","service":"catalog","address":"169.254.169.254","port":80}`,
		etcd.Prefix + "catalog/junk":  `not json`,
		etcd.Prefix + "catalog/fine1": `{"id":"fine1","service":"catalog","address":"127.0.0.1","port":8081}`,
	} {
		if _, err := raw.Put(context.Background(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); len(r.Instances("catalog")) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the valid instance never showed")
		}
	}
	if got := r.Instances("catalog"); len(got) != 1 || got[0].ID != "fine1" {
		t.Errorf("view: %+v, want fine1 alone", got)
	}
}

// BenchmarkRoutableAfterRegistering measures how long after one process
// registers an instance in etcd another process's view has it (the
// watch's latency), and after it deregisters, has it no longer.
func BenchmarkRoutableAfterRegistering(b *testing.B) {
	url := testkit.Etcd(b)
	open := func() *etcd.Registry {
		r, err := etcd.New(context.Background(), etcd.Config{Endpoints: []string{url}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close() })
		return r
	}
	instance, gateway := open(), open()
	ctx := context.Background()
	var seen, gone time.Duration
	for i := 0; b.Loop(); i++ {
		inst := registry.Instance{ID: fmt.Sprintf("catalog-%d", i), Service: "catalog", Address: "127.0.0.1", Port: 8081}
		start := time.Now()
		if err := instance.Register(ctx, inst); err != nil {
			b.Fatal(err)
		}
		for len(gateway.Instances("catalog")) == 0 {
			time.Sleep(50 * time.Microsecond)
		}
		seen += time.Since(start)
		start = time.Now()
		if err := instance.Deregister(ctx, inst.ID); err != nil {
			b.Fatal(err)
		}
		for len(gateway.Instances("catalog")) != 0 {
			time.Sleep(50 * time.Microsecond)
		}
		gone += time.Since(start)
	}
	b.ReportMetric(float64(seen.Microseconds())/float64(b.N)/1000, "ms-to-routable")
	b.ReportMetric(float64(gone.Microseconds())/float64(b.N)/1000, "ms-to-unroutable")
}
