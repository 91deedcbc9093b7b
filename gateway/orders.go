package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/problem"
	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/services/orders"
)

// servePlaceOrder places user's cart as a choreographed order: 202, the
// pending order, and where to follow it.
func servePlaceOrder(e echo.Context, c *composite.Composer, user, key string) error {
	res, err := c.PlaceOrder(e.Request().Context(), user, key)
	if err != nil {
		return err
	}
	h := e.Response().Header()
	h.Set(echo.HeaderLocation, "/api/v1/orders/"+res.Order.ID)
	if res.Replayed {
		h.Set("Idempotent-Replayed", "true")
	}
	return answer(e, http.StatusAccepted)(res, nil)
}

// nobody is no user's id: an order that cannot be read is checked against
// it, so that only the admin learns more than a session would of an order
// that is another user's.
const nobody = "u00000000"

// errNoOrder is the answer to an order that is not the session's user's,
// the same as to one that does not exist.
var errNoOrder = problem.New(http.StatusNotFound, "not_found", "no such order of yours")

// orderRoutes adds the routes that follow an order to g:
//
//	GET /orders/{id}         the order, its status and its steps
//	GET /orders/{id}/events  the same as Server-Sent Events, until the order is final
func orderRoutes(g *echo.Group, c *composite.Composer, act actor) {
	// read reads order id for the user act admits.
	read := func(e echo.Context) (composite.OrderView, error) {
		id, err := param(e, "id", orders.ValidID, "o- and 6 to 12 digits")
		if err != nil {
			return composite.OrderView{}, err
		}
		o, err := c.Order(e.Request().Context(), id)
		owner := o.UserID
		if err != nil {
			owner = nobody
		}
		if _, aerr := act(e, owner); aerr != nil {
			if errors.Is(aerr, ErrNotYourUser) {
				return composite.OrderView{}, errNoOrder
			}
			return composite.OrderView{}, aerr
		}
		return o, err
	}
	g.GET("/orders/:id", func(e echo.Context) error {
		return answer(e, http.StatusOK)(read(e))
	})
	open := &streams{byUser: map[string]int{}}
	g.GET("/orders/:id/events", func(e echo.Context) error {
		// Watched before the first read, so that no event between the two
		// goes unnoticed.
		wake, stop := c.Watch(e.Param("id"))
		defer stop()
		o, err := read(e)
		if err != nil {
			return err
		}
		done, err := open.take(o.UserID)
		if err != nil {
			return err
		}
		defer done()
		return streamOrder(e, c, o, wake)
	})
}

// Stream caps: a stream holds a connection for minutes, so that a user
// (or all of them) cannot hold the gateway's every request slot.
const (
	MaxStreamsPerUser = 4
	MaxStreams        = 256
)

// streams counts the order streams open, by the orders' user.
type streams struct {
	mu     sync.Mutex
	byUser map[string]int
	total  int
}

// take opens a stream of user's, or refuses it with a 429; done closes it.
func (s *streams) take(user string) (done func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byUser[user] >= MaxStreamsPerUser || s.total >= MaxStreams {
		return nil, problem.Newf(http.StatusTooManyRequests, "too_many_streams",
			"at most %d streams of a user's orders at once (%d in all): close one first", MaxStreamsPerUser, MaxStreams)
	}
	s.byUser[user]++
	s.total++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.total--
		if s.byUser[user]--; s.byUser[user] == 0 {
			delete(s.byUser, user)
		}
	}, nil
}

// streamLimit bounds one stream of an order's events; a client that still
// wants them connects again with Last-Event-ID.
const streamLimit = 2 * time.Minute

// streamOrder sends order o's steps as Server-Sent Events: one "step"
// event per step (its id the step's number, so that a client reconnecting
// with Last-Event-ID gets only the steps it missed), then "done" with the
// order once it is final. It reads the order again whenever wake tells of
// an event of it, or every second should one not reach this gateway.
func streamOrder(e echo.Context, c *composite.Composer, o composite.OrderView, wake <-chan struct{}) error {
	ctx := e.Request().Context()
	sent, _ := strconv.Atoi(e.Request().Header.Get("Last-Event-ID"))
	sent = max(sent, 0)
	h := e.Response().Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set(echo.HeaderCacheControl, "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx in front: pass each event on at once
	e.Response().WriteHeader(http.StatusOK)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.NewTimer(streamLimit)
	defer end.Stop()
	for {
		for ; sent < len(o.Steps); sent++ {
			data, _ := json.Marshal(struct {
				orders.Step
				Status string `json:"status"`
			}{o.Steps[sent], o.Status})
			if _, err := fmt.Fprintf(e.Response(), "event: step\nid: %d\ndata: %s\n\n", sent+1, data); err != nil {
				return nil // the client left
			}
		}
		if o.Final {
			data, _ := json.Marshal(o)
			fmt.Fprintf(e.Response(), "event: done\nid: %d\ndata: %s\n\n", sent, data)
			e.Response().Flush()
			return nil
		}
		e.Response().Flush()
		select {
		case <-ctx.Done():
			return nil
		case <-server.ShuttingDown(ctx):
			return nil
		case <-end.C:
			return nil
		case <-wake:
		case <-tick.C:
		}
		next, err := c.Order(ctx, o.ID)
		if err != nil {
			continue // a failed read: the next wake-up or tick tries again
		}
		o = next
	}
}
