// Package broker is atrium's message broker: NATS with JetStream, so that
// services integrate through publish and subscribe and an event outlives a
// subscriber that is down. Embed runs a NATS server inside an atrium
// process (the default, so that one machine needs no server); Connect
// joins one, embedded or external.
//
// Events go to one stream, EVENTS, de-duplicated on their ids. A service
// consumes them through a durable consumer of its own (Consume): an event
// its handler fails is delivered again with back-off, and one that keeps
// failing goes to the dead-letter stream, DEAD, where DeadLetters shows it.
// A process that only follows what happens from now on, such as a
// gateway's cache, uses an ordered consumer that keeps no state (Follow).
package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/atrium-bff/atrium/internal/event"
)

// The streams.
const (
	Stream = "EVENTS"
	Dead   = "DEAD"
)

// Subjects are the subjects of the EVENTS stream: every service's domain
// events.
var Subjects = []string{"catalog.>", "inventory.>", "order.>", "payment.>", "cart.>"}

// deadPrefix prefixes a dead letter's subject.
const deadPrefix = "dead."

// Options tune a Bus. The zero value takes the defaults in brackets.
type Options struct {
	// Name names the connection in the server's monitoring ["atrium"].
	Name string
	// User and Password authenticate to the server; empty for none.
	User, Password string
	// MaxDeliver is how many times an event is delivered to a consumer
	// before it goes to DEAD [5].
	MaxDeliver int
	// AckWait is how long a delivery may take before it is delivered again
	// [5s]: also how long an event delivered to a consumer that died with
	// it waits before another replica, or the consumer's next process,
	// takes it. Atrium's handlers are local database writes, well within.
	AckWait time.Duration
	// Backoff is the wait before each redelivery of a failed event
	// [100ms, 500ms, 2s, 5s].
	Backoff []time.Duration
	// Logger logs dead letters and consumer errors [slog.Default()].
	Logger *slog.Logger
	// ServiceAccount connects as a service's account, which may not make
	// the streams: Connect waits until atrium's own user has made them.
	ServiceAccount bool
}

// Bus is a connection to the broker.
type Bus struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	opts Options
}

// Connect joins the NATS server at url and makes sure the streams exist.
// It waits for the server for as long as ctx allows.
func Connect(ctx context.Context, url string, opts Options) (*Bus, error) {
	if opts.Name == "" {
		opts.Name = "atrium"
	}
	if opts.MaxDeliver == 0 {
		opts.MaxDeliver = 5
	}
	if opts.AckWait == 0 {
		opts.AckWait = 5 * time.Second
	}
	if opts.Backoff == nil {
		opts.Backoff = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second, 5 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	logger := opts.Logger
	nopts := []nats.Option{nats.Name(opts.Name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true), nats.Timeout(2 * time.Second),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { logger.Error("broker", "err", err) })}
	if opts.User != "" {
		nopts = append(nopts, nats.UserInfo(opts.User, opts.Password))
	}
	nc, err := nats.Connect(url, nopts...)
	if err != nil {
		return nil, fmt.Errorf("broker: connect %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	b := &Bus{nc: nc, js: js, opts: opts}
	for {
		err = b.streams(ctx)
		if err == nil {
			return b, nil
		}
		select {
		case <-ctx.Done():
			nc.Close()
			return nil, fmt.Errorf("broker: %s: %w", url, err)
		case <-time.After(100 * time.Millisecond): // the server may still be starting
		}
	}
}

func (b *Bus) streams(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if b.opts.ServiceAccount {
		for _, name := range []string{Stream, Dead} {
			if _, err := b.js.Stream(ctx, name); err != nil {
				return fmt.Errorf("stream %s: %w", name, err)
			}
		}
		return nil
	}
	for _, cfg := range []jetstream.StreamConfig{
		{Name: Stream, Subjects: Subjects, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute, MaxAge: 7 * 24 * time.Hour},
		{Name: Dead, Subjects: []string{deadPrefix + ">"}, Storage: jetstream.FileStorage, MaxAge: 30 * 24 * time.Hour},
	} {
		if _, err := b.js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// Close drains the connection: what was published is sent, what is being
// handled finishes.
func (b *Bus) Close() error { return b.nc.Drain() }

// Publish publishes e and returns once the stream holds it. Publishing an
// event again (a relay that crashed before it noted the first time) stores
// nothing new: the stream de-duplicates on the event's id.
func (b *Bus) Publish(ctx context.Context, e event.Event) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if _, err := b.js.Publish(ctx, e.Subject, data, jetstream.WithMsgID(e.ID)); err != nil {
		return fmt.Errorf("broker: publish %s: %w", e.Subject, err)
	}
	return nil
}

// Handler handles one event. An error has it delivered again later.
type Handler func(ctx context.Context, e event.Event) error

// Consumption is a running consumer; Stop ends it.
type Consumption struct{ cc jetstream.ConsumeContext }

// Stop stops the deliveries; an event being handled finishes.
func (c *Consumption) Stop() { c.cc.Stop() }

// Consume delivers the events on subjects to handle through the durable
// consumer durable (a service's name, so that its replicas share the work
// and an event published while all of them are down waits for them), in
// the order the stream holds them. An event handle fails is delivered
// again after a back-off, up to MaxDeliver times; then it goes to DEAD. A
// server older than 2.10 filters a consumer by one subject only: there a
// consumer of several subjects takes every event and acknowledges those
// it does not want unseen, so that the order holds (filter).
func (b *Bus) Consume(ctx context.Context, durable string, subjects []string, handle Handler) (*Consumption, error) {
	cfg := jetstream.ConsumerConfig{
		Durable: durable, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: b.opts.AckWait, MaxDeliver: b.opts.MaxDeliver + 1, // the last delivery only moves it to DEAD
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	filters, handle := b.filter(subjects, handle)
	if len(filters) == 1 { // what servers before 2.10 understand
		cfg.FilterSubject = filters[0]
	} else {
		cfg.FilterSubjects = filters
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, Stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("broker: consumer %s: %w", durable, err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) { b.deliver(ctx, durable, msg, handle) })
	if err != nil {
		return nil, fmt.Errorf("broker: consume %s: %w", durable, err)
	}
	return &Consumption{cc: cc}, nil
}

// filter returns the subjects the server is to filter a consumer of
// subjects by, and the handler to give it. A server before 2.10 filters by
// one subject only: for more, it filters by none, and the handler passes
// on the events of subjects alone, in the stream's order.
func (b *Bus) filter(subjects []string, handle Handler) ([]string, Handler) {
	if len(subjects) == 1 || b.multiFilter() {
		return subjects, handle
	}
	return nil, func(ctx context.Context, e event.Event) error {
		if !slices.ContainsFunc(subjects, func(p string) bool { return matches(p, e.Subject) }) {
			return nil
		}
		return handle(ctx, e)
	}
}

// matches reports whether subject is one of pattern's: NATS wildcards, *
// for one token and > for the rest.
func matches(pattern, subject string) bool {
	ps, ss := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, p := range ps {
		switch {
		case p == ">":
			return len(ss) > i
		case i >= len(ss) || (p != "*" && p != ss[i]):
			return false
		}
	}
	return len(ps) == len(ss)
}

// multiFilter reports whether the server filters a consumer by several
// subjects (NATS 2.10 and later).
func (b *Bus) multiFilter() bool {
	var major, minor int
	if _, err := fmt.Sscanf(b.nc.ConnectedServerVersion(), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 2 || major == 2 && minor >= 10
}

// deliver hands one message to handle and settles it.
func (b *Bus) deliver(ctx context.Context, durable string, msg jetstream.Msg, handle Handler) {
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	var e event.Event
	if err := json.Unmarshal(msg.Data(), &e); err != nil {
		b.bury(ctx, durable, msg, fmt.Errorf("not an event: %w", err))
		return
	}
	if int(meta.NumDelivered) > b.opts.MaxDeliver {
		b.bury(ctx, durable, msg, errors.New("failed on every delivery"))
		return
	}
	if err := handle(ctx, e); err != nil {
		if errors.Is(err, event.ErrPoison) {
			b.bury(ctx, durable, msg, err)
			return
		}
		delay := b.opts.Backoff[min(int(meta.NumDelivered), len(b.opts.Backoff))-1]
		b.opts.Logger.Warn("event failed; delivered again later", "consumer", durable, "subject", e.Subject,
			"event", e.ID, "delivery", meta.NumDelivered, "err", err)
		_ = msg.NakWithDelay(delay)
		return
	}
	_ = msg.Ack()
}

// DeadLetter is an event that a consumer failed on every delivery.
type DeadLetter struct {
	Consumer string          `json:"consumer"`
	Subject  string          `json:"subject"`
	Error    string          `json:"error"`
	At       time.Time       `json:"at"`
	Event    json.RawMessage `json:"event"`
}

// bury moves msg to DEAD and stops its deliveries.
func (b *Bus) bury(ctx context.Context, durable string, msg jetstream.Msg, why error) {
	d, _ := json.Marshal(DeadLetter{Consumer: durable, Subject: msg.Subject(), Error: why.Error(), At: time.Now().UTC(), Event: msg.Data()})
	if _, err := b.js.Publish(ctx, deadPrefix+durable+"."+msg.Subject(), d); err != nil {
		_ = msg.Nak() // not buried: keep it where it is
		return
	}
	b.opts.Logger.Error("event dead-lettered", "consumer", durable, "subject", msg.Subject(), "err", why)
	_ = msg.Term()
}

// DeadLetters returns up to limit dead letters, oldest first.
func (b *Bus) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	out := []DeadLetter{}
	cons, err := b.js.OrderedConsumer(ctx, Dead, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	info, err := b.js.Stream(ctx, Dead)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	n := min(limit, int(info.CachedInfo().State.Msgs))
	if n == 0 {
		return out, nil
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	for msg := range batch.Messages() {
		var d DeadLetter
		if json.Unmarshal(msg.Data(), &d) == nil {
			out = append(out, d)
		}
	}
	return out, batch.Error()
}

// Follow delivers to handle the events on subjects published from now on,
// through an ordered consumer that keeps no state: for a process that only
// reacts to what happens while it runs (a gateway dropping its cached
// answers). A failing handle is not retried. It runs until ctx ends.
func (b *Bus) Follow(ctx context.Context, subjects []string, handle Handler) error {
	filters, handle := b.filter(subjects, handle)
	cons, err := b.js.OrderedConsumer(ctx, Stream, jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return fmt.Errorf("broker: follow %s: %w", strings.Join(subjects, ","), err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		var e event.Event
		if json.Unmarshal(msg.Data(), &e) == nil {
			if err := handle(ctx, e); err != nil {
				b.opts.Logger.Warn("event not handled", "subject", e.Subject, "event", e.ID, "err", err)
			}
		}
	})
	if err != nil {
		return fmt.Errorf("broker: follow: %w", err)
	}
	go func() { <-ctx.Done(); cc.Stop() }()
	return nil
}
