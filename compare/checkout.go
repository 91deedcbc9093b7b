package compare

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// The checkout's two integration styles.
const (
	Orchestrated  = "orchestrated (saga)"
	Choreographed = "choreographed (events)"
)

// CheckoutRow is one integration style of the checkout, in microservices
// mode: a closed loop of checkouts, one client per user, and then a 5 s
// outage of inventory during one checkout per user.
type CheckoutRow struct {
	Style  string `json:"style"`
	Orders int    `json:"orders"` // completed in the closed loop
	Errors int    `json:"errors"`
	// Throughput is orders completed per second.
	Throughput float64 `json:"throughput"`
	// Answer is the latency of the checkout's answer (201, or 202 for a
	// pending order); Done, of the order completed (paid, stock committed):
	// the answer for the saga, the last event for the choreography.
	AnswerP50 float64 `json:"answer_p50_ms"`
	AnswerP99 float64 `json:"answer_p99_ms"`
	DoneP50   float64 `json:"done_p50_ms"`
	DoneP99   float64 `json:"done_p99_ms"`
	// The outage: checkouts sent 1 s into a 5 s freeze of inventory.
	OutageTried     int     `json:"outage_tried"`
	OutageAccepted  int     `json:"outage_accepted"`
	OutageCompleted int     `json:"outage_completed"`
	OutageDoneMaxMS float64 `json:"outage_done_max_ms"`
}

// checkoutUsers are the seed users, one client each.
const checkoutUsers = 20

// checkoutOrders bounds the closed loop: the seed stock of the products
// it buys lasts that long.
const checkoutOrders = 900

// checkout compares the orchestrated and the choreographed checkout in
// microservices mode.
func (r *runner) checkout(ctx context.Context, rep *Report) error {
	for _, style := range []string{Orchestrated, Choreographed} {
		p, err := r.start(ctx, Microservices)
		if err != nil {
			return err
		}
		c := checkoutClient{base: p.Base, token: r.token, events: style == Choreographed,
			http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
		row := CheckoutRow{Style: style}
		r.prog.begin("checkout "+style, r.cfg.Duration)
		err = c.loop(ctx, r.cfg.Duration, r.prog, &row)
		r.prog.end()
		if err != nil {
			p.Stop(20 * time.Second)
			return err
		}
		r.prog.begin("checkout "+style+", inventory down 5 s", 6*time.Second)
		err = c.outage(ctx, r, &row)
		r.prog.end()
		if err != nil {
			p.Stop(20 * time.Second)
			return err
		}
		rep.Checkout = append(rep.Checkout, row)
		if err := p.Stop(20 * time.Second); err != nil {
			return fmt.Errorf("stop: %w", err)
		}
	}
	return nil
}

// checkoutClient places checkouts of one style.
type checkoutClient struct {
	base, token string
	events      bool
	http        *http.Client
}

func (c checkoutClient) do(ctx context.Context, method, path, body string, header ...string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// stocked are the seed's best-stocked products: at least 97 units each,
// enough for checkoutOrders spread over them.
var stocked = []string{"p058", "p002", "p007", "p034", "p019", "p009", "p059", "p054", "p005", "p043", "p048", "p046"}

// fill puts one unit of a well-stocked product in user's cart.
func (c checkoutClient) fill(ctx context.Context, user string, n int) error {
	product := stocked[n%len(stocked)]
	status, _, body, err := c.do(ctx, http.MethodPost, "/api/v1/users/"+user+"/cart/items", fmt.Sprintf(`{"product_id":%q,"quantity":1}`, product))
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("add to %s's cart: %d %s", user, status, body)
	}
	return err
}

// placed is how one checkout went.
type placed struct {
	answered time.Duration // until the checkout's answer
	accepted bool          // 201 (saga), 202 (choreography)
	done     time.Duration // until the order was completed: the answer, for the saga
	err      error         // why it was not completed
}

// place checks user's cart out, and for the choreography follows the
// order to its end.
func (c checkoutClient) place(ctx context.Context, user, key string) placed {
	start := time.Now()
	body := fmt.Sprintf(`{"user_id":%q}`, user)
	if c.events {
		body = fmt.Sprintf(`{"user_id":%q,"mode":"events"}`, user)
	}
	status, header, b, err := c.do(ctx, http.MethodPost, "/api/v1/checkout", body, "Idempotency-Key", key)
	res := placed{answered: time.Since(start), err: err}
	switch {
	case err != nil:
		return res
	case !c.events && status == http.StatusCreated:
		res.accepted, res.done = true, res.answered
		return res
	case !c.events || status != http.StatusAccepted:
		res.err = fmt.Errorf("checkout: %d %.200s", status, b)
		return res
	}
	res.accepted = true
	final, err := c.follow(ctx, header.Get("Location")+"/events")
	switch {
	case err != nil:
		res.err = err
	case final != "completed":
		res.err = fmt.Errorf("order %s", final)
	default:
		res.done = time.Since(start)
	}
	return res
}

// follow reads an order's event stream to its end and returns the order's
// last status.
func (c checkoutClient) follow(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	status := ""
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var v struct{ Status string }
			if json.Unmarshal([]byte(data), &v) == nil {
				status = v.Status
			}
		}
	}
	return status, sc.Err()
}

// loop runs checkouts, one client per user, until d passes or the stock
// the loop buys runs short.
func (c checkoutClient) loop(ctx context.Context, d time.Duration, prog *progress, row *CheckoutRow) error {
	answers, dones := hdr.New(1, 60_000_000, 3), hdr.New(1, 60_000_000, 3)
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		placed  int
		errs    []error
		stopAt  = time.Now().Add(d)
		started = time.Now()
	)
	for u := 1; u <= checkoutUsers; u++ {
		user := fmt.Sprintf("u%02d", u)
		wg.Go(func() {
			for n := 0; time.Now().Before(stopAt) && ctx.Err() == nil; n++ {
				mu.Lock()
				enough := placed >= checkoutOrders
				placed++
				mu.Unlock()
				if enough {
					return
				}
				if err := c.fill(ctx, user, u+n); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				res := c.place(ctx, user, fmt.Sprintf("loop-%s-%d", user, n))
				prog.count(res.err == nil)
				mu.Lock()
				if res.err != nil {
					row.Errors++
				} else {
					row.Orders++
					answers.RecordValue(res.answered.Microseconds())
					dones.RecordValue(res.done.Microseconds())
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	row.Throughput = float64(row.Orders) / time.Since(started).Seconds()
	row.AnswerP50, row.AnswerP99 = float64(answers.ValueAtQuantile(50))/1000, float64(answers.ValueAtQuantile(99))/1000
	row.DoneP50, row.DoneP99 = float64(dones.ValueAtQuantile(50))/1000, float64(dones.ValueAtQuantile(99))/1000
	return nil
}

// outage fills every user's cart, freezes the inventory process for 5 s,
// and 1 s into it checks every cart out; it counts what was accepted at
// once and what was completed in the end (waiting up to 30 s after the
// outage), and the longest wait for a completed order.
func (c checkoutClient) outage(ctx context.Context, r *runner, row *CheckoutRow) error {
	for u := 1; u <= checkoutUsers; u++ {
		if err := c.fill(ctx, fmt.Sprintf("u%02d", u), u); err != nil {
			return err
		}
	}
	pid, err := r.pid(c.base, "inventory")
	if err != nil {
		return err
	}
	thaw, err := freeze(pid)
	if err != nil {
		return err
	}
	timer := time.AfterFunc(5*time.Second, thaw)
	defer func() {
		if timer.Stop() { // the run ended early: do not leave it frozen
			thaw()
		}
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Second):
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for u := 1; u <= checkoutUsers; u++ {
		user := fmt.Sprintf("u%02d", u)
		wg.Go(func() {
			res := c.place(ctx, user, "outage-"+user)
			r.prog.count(res.err == nil)
			mu.Lock()
			defer mu.Unlock()
			row.OutageTried++
			if res.accepted {
				row.OutageAccepted++
			}
			if res.err == nil {
				row.OutageCompleted++
				row.OutageDoneMaxMS = max(row.OutageDoneMaxMS, float64(res.done.Microseconds())/1000)
			}
		})
	}
	wg.Wait()
	return nil
}

// pid finds the process of service's one instance through the registry.
func (r *runner) pid(base, service string) (int, error) {
	insts, err := r.instancesOf(base, service)
	if err != nil {
		return 0, err
	}
	if len(insts) != 1 {
		return 0, fmt.Errorf("%s has %d instances, want 1", service, len(insts))
	}
	return strconv.Atoi(insts[0].Meta["pid"])
}
