package broker_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/atrium-bff/atrium/broker"
	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/internal/testkit"
)

var users = []broker.User{{Name: "atrium", Password: "secret"}}

// embedded starts a NATS server for the test and connects to it.
func embedded(t *testing.T, opts broker.Options) (*broker.Server, *broker.Bus) {
	t.Helper()
	srv, err := broker.Embed(t.TempDir(), "127.0.0.1:0", users)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv, connect(t, srv.URL(), opts)
}

func connect(t *testing.T, url string, opts broker.Options) *broker.Bus {
	t.Helper()
	opts.User, opts.Password = users[0].Name, users[0].Password
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := broker.Connect(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func newEvent(t *testing.T, subject string, data any) event.Event {
	t.Helper()
	e, err := event.New(subject, data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// collector gathers the events a handler was given.
type collector struct {
	mu   sync.Mutex
	got  []event.Event
	seen chan event.Event
}

func newCollector() *collector { return &collector{seen: make(chan event.Event, 100)} }

func (c *collector) handle(_ context.Context, e event.Event) error {
	c.mu.Lock()
	c.got = append(c.got, e)
	c.mu.Unlock()
	c.seen <- e
	return nil
}

// next waits for the next event handled, or fails after 10 s.
func (c *collector) next(t *testing.T) event.Event {
	t.Helper()
	select {
	case e := <-c.seen:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return event.Event{}
	}
}

func TestAnEventWaitsForItsConsumerAndComesOnce(t *testing.T) {
	ctx := context.Background()
	_, bus := embedded(t, broker.Options{})
	first := newEvent(t, "catalog.product.updated", map[string]string{"id": "p001"})
	// Published before anyone consumes, and twice (a relay that crashed
	// before it noted the first time): one event, waiting.
	for range 2 {
		if err := bus.Publish(ctx, first); err != nil {
			t.Fatal(err)
		}
	}
	c := newCollector()
	cons, err := bus.Consume(ctx, "search", []string{"catalog.>"}, c.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Stop()
	if got := c.next(t); got.ID != first.ID || string(got.Data) != `{"id":"p001"}` {
		t.Errorf("got %+v, want %+v", got, first)
	}
	second := newEvent(t, "catalog.product.updated", map[string]string{"id": "p002"})
	if err := bus.Publish(ctx, second); err != nil {
		t.Fatal(err)
	}
	if got := c.next(t); got.ID != second.ID {
		t.Errorf("second: got %s, want %s (the first came twice?)", got.ID, second.ID)
	}
	other := newEvent(t, "order.placed", map[string]string{"id": "o-1"})
	if err := bus.Publish(ctx, other); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-c.seen:
		t.Errorf("a consumer of catalog.> got %s", e.Subject)
	case <-time.After(300 * time.Millisecond): // nothing must come: a bounded wait for an absence
	}
}

func TestAFailingEventIsRetriedThenDeadLettered(t *testing.T) {
	ctx := context.Background()
	_, bus := embedded(t, broker.Options{MaxDeliver: 3, Backoff: []time.Duration{10 * time.Millisecond}})
	var mu sync.Mutex
	tries := map[string]int{}
	done := make(chan string, 10)
	handle := func(_ context.Context, e event.Event) error {
		mu.Lock()
		defer mu.Unlock()
		tries[e.ID]++
		if string(e.Data) == `"poison"` {
			return errors.New("cannot take it")
		}
		if tries[e.ID] < 2 { // fails once, then works
			return errors.New("not yet")
		}
		done <- e.ID
		return nil
	}
	cons, err := bus.Consume(ctx, "inventory", []string{"order.>"}, handle)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Stop()
	flaky, poison := newEvent(t, "order.placed", "flaky"), newEvent(t, "order.placed", "poison")
	for _, e := range []event.Event{poison, flaky} {
		if err := bus.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case id := <-done:
		if id != flaky.ID {
			t.Errorf("done %s, want the flaky event", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the flaky event was not delivered again")
	}
	var dead []broker.DeadLetter
	for deadline := time.Now().Add(10 * time.Second); len(dead) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the poison event never reached the dead letters")
		}
		if dead, err = bus.DeadLetters(ctx, 10); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dead) != 1 || dead[0].Consumer != "inventory" || dead[0].Subject != "order.placed" || tries[poison.ID] != 3 {
		t.Errorf("dead letters %+v after %d tries; want the poison event, tried 3 times", dead, tries[poison.ID])
	}
}

func TestReplicasShareAConsumer(t *testing.T) {
	ctx := context.Background()
	srv, bus := embedded(t, broker.Options{})
	other := connect(t, srv.URL(), broker.Options{})
	a, b := newCollector(), newCollector()
	for _, r := range []struct {
		bus *broker.Bus
		c   *collector
	}{{bus, a}, {other, b}} {
		cons, err := r.bus.Consume(ctx, "payments", []string{"order.>"}, r.c.handle)
		if err != nil {
			t.Fatal(err)
		}
		defer cons.Stop()
	}
	const n = 40
	for i := range n {
		if err := bus.Publish(ctx, newEvent(t, "order.placed", i)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for range n {
		select {
		case e := <-a.seen:
			seen[e.ID] = true
		case e := <-b.seen:
			seen[e.ID] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d events handled", len(seen), n)
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct events of %d: one was handled twice", len(seen), n)
	}
}

func TestFollowSeesOnlyWhatComesAfter(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, bus := embedded(t, broker.Options{})
	before := newEvent(t, "catalog.product.updated", "before")
	if err := bus.Publish(ctx, before); err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	if err := bus.Follow(ctx, []string{"catalog.>"}, c.handle); err != nil {
		t.Fatal(err)
	}
	after := newEvent(t, "catalog.product.updated", "after")
	// The ordered consumer may start after this publish on a slow machine:
	// publish until one arrives, and check that none is the old one.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := bus.Publish(ctx, after); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-c.seen:
			if e.ID != after.ID {
				t.Fatalf("followed %s, published before Follow", e.Data)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("Follow saw nothing")
		}
		after = newEvent(t, "catalog.product.updated", "after")
	}
}

func TestEmbedRefusesAnOpenServer(t *testing.T) {
	if _, err := broker.Embed(t.TempDir(), "127.0.0.1:0", nil); err == nil {
		t.Fatal("an embedded server without users started")
	}
}

func TestAStrangerCannotConnect(t *testing.T) {
	srv, _ := embedded(t, broker.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := broker.Connect(ctx, srv.URL(), broker.Options{User: "atrium", Password: "wrong"}); err == nil {
		t.Fatal("connected with a wrong password")
	}
}

// TestAnExternalServer runs the same publish and consume against Debian's
// nats-server in a process of its own, as a deployment across machines
// would use.
func TestAnExternalServer(t *testing.T) {
	url := testkit.NATS(t, users[0].Name, users[0].Password)
	bus := connect(t, url, broker.Options{})
	ctx := context.Background()
	e := newEvent(t, "catalog.product.updated", map[string]string{"id": "p001"})
	if err := bus.Publish(ctx, e); err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	cons, err := bus.Consume(ctx, "search", []string{"catalog.>"}, c.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Stop()
	if got := c.next(t); got.ID != e.ID {
		t.Errorf("got %s, want %s", got.ID, e.ID)
	}
}

func TestTwoServersCannotShareAStore(t *testing.T) {
	dir := t.TempDir()
	srv, err := broker.Embed(dir, "127.0.0.1:0", users)
	if err != nil {
		t.Fatal(err)
	}
	if second, err := broker.Embed(dir, "127.0.0.1:0", users); err == nil {
		second.Shutdown()
		t.Fatal("a second server started on the first one's store")
	}
	srv.Shutdown()
	again, err := broker.Embed(dir, "127.0.0.1:0", users) // the store is free again
	if err != nil {
		t.Fatal(err)
	}
	again.Shutdown()
}

// TestAServiceAccountTellsOnlyItsOwnEvents: a service's account publishes
// its own subjects and consumes what it subscribes to, but cannot tell
// another service's events, nor purge the stream.
func TestAServiceAccountTellsOnlyItsOwnEvents(t *testing.T) {
	pay := broker.User{Name: "payments", Password: "pw", Publishes: []string{"payment.>"}}
	srv, err := broker.Embed(t.TempDir(), "127.0.0.1:0", append(slices.Clone(users), pay))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	admin := connect(t, srv.URL(), broker.Options{}) // atrium's user makes the streams
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svc, err := broker.Connect(ctx, srv.URL(), broker.Options{User: pay.Name, Password: pay.Password, ServiceAccount: true})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	c := newCollector()
	cons, err := svc.Consume(ctx, "payments", []string{"inventory.committed"}, c.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Stop()
	committed := newEvent(t, "inventory.committed", map[string]string{"order_id": "o-000001"})
	if err := admin.Publish(ctx, committed); err != nil {
		t.Fatal(err)
	}
	if got := c.next(t); got.ID != committed.ID {
		t.Errorf("the payments consumer got %+v", got)
	}
	if err := svc.Publish(ctx, newEvent(t, "payment.succeeded", map[string]string{"order_id": "o-000001"})); err != nil {
		t.Errorf("payments telling of a payment: %v", err)
	}
	short, stop := context.WithTimeout(ctx, time.Second)
	defer stop()
	if err := svc.Publish(short, newEvent(t, "inventory.committed", map[string]string{"order_id": "o-000002"})); err == nil {
		t.Error("payments told of inventory's stock: a service's account may tell its own events only")
	}
	nc, err := nats.Connect(srv.URL(), nats.UserInfo(pay.Name, pay.Password))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	stream, err := js.Stream(ctx, broker.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Purge(short); err == nil {
		t.Error("payments purged the stream")
	}
	if info, err := stream.Info(ctx); err != nil || info.State.Msgs != 2 {
		t.Errorf("the stream after the attempts: %+v, %v; want the two events told rightly", info, err)
	}
}
