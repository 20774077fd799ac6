package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/apiclient"
	"github.com/onramp/onramp/workflows"
)

// timedStep is one Update-backed request of the wizard, and the Update the
// bare workflow takes in its place.
type timedStep struct {
	key, method, path string
	body              []byte
	contentType       string
	update            string
	arg               any // nil: the Update takes no argument
}

const stepsPath = "/api/v1/reps/me/onboarding/steps/"

// timedSteps are the nine timed requests of one rep: every step built so far
// (the account step is done at sign-in, in the setup).
var timedSteps = sync.OnceValue(func() []timedStep {
	prof := onramp.Profile{FirstName: "Load", LastName: "Generator", Title: "Here to help you find your perfect solution!"}
	form, ct := apiclient.ProfileForm(prof.FirstName, prof.LastName, prof.Title, "loadgen.png", apiclient.GradientPNG(96, 96))
	av := onramp.DefaultAvailability("Europe/Paris")
	n := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
	n.Sound = "marimba"
	b := onramp.BrowserPermissions{Notifications: "granted", Camera: "granted", Microphone: "denied"}
	js := func(v any) []byte {
		out, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return out
	}
	// The API stores the photo itself and hands the workflow its ID.
	prof.PhotoID = "loadgen-photo"
	steps := []timedStep{
		{key: "profile", method: "PUT", path: stepsPath + "profile", body: form, contentType: ct, update: workflows.UpdateProfile, arg: prof},
		{key: "availability", method: "PUT", path: stepsPath + "availability", body: js(av), contentType: "application/json", update: workflows.UpdateAvailability, arg: av},
		{key: "notifications", method: "PUT", path: stepsPath + "notifications", body: js(n), contentType: "application/json", update: workflows.UpdateNotifications, arg: n},
		{key: "browser", method: "PUT", path: stepsPath + "browser", body: js(b), contentType: "application/json", update: workflows.UpdateBrowser, arg: b},
	}
	for _, k := range []onramp.StepKey{onramp.StepCalendar, onramp.StepMeeting, onramp.StepCRM, onramp.StepApps} {
		steps = append(steps, timedStep{key: "skip " + string(k), method: "POST", path: stepsPath + string(k) + "/skip", update: workflows.UpdateSkip, arg: workflows.StepInput{Step: k}})
	}
	return append(steps, timedStep{key: "finish", method: "POST", path: stepsPath + "finish", update: workflows.UpdateFinish})
})

func stepKeys() []string {
	var keys []string
	for _, s := range timedSteps() {
		keys = append(keys, s.key)
	}
	return keys
}

// repsPerSource is how many simulated reps share one client address. The
// API limits sign-ins per client address (30 a minute); the reps of a real
// org sign in from many addresses, so loadgen spreads its reps over source
// addresses of the loopback network (127.0.0.0/8 is all local on Linux).
const repsPerSource = 20

// httpSide is the HTTP side: the admin and one browser-like client
// (cookie jar + CSRF token) per rep.
type httpSide struct {
	o    options
	bind bool // the target is IPv4 loopback: spread source addresses
	// srcBase offsets this run's source addresses, so that back-to-back
	// runs do not share the server's per-address sign-in counters.
	srcBase int

	admin *apiclient.Client // signed in by setup

	mu         sync.Mutex
	transports map[int]*http.Transport
}

func newHTTPSide(o options) *httpSide {
	h := &httpSide{o: o, transports: map[int]*http.Transport{}, srcBase: mrand.IntN(1 << 20)}
	if u, err := url.Parse(o.URL); err == nil {
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.To4() != nil && ip.IsLoopback() {
			h.bind = true
		}
	}
	return h
}

func (h *httpSide) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range h.transports {
		t.CloseIdleConnections()
	}
}

// transport is the connection pool of source group g (0: the default
// source address).
func (h *httpSide) transport(g int) *http.Transport {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.transports[g]; t != nil {
		return t
	}
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if g > 0 && h.bind {
		n := h.srcBase + g // in 127.64.0.0/10
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, byte(64+(n>>16)&63), byte(n>>8), byte(n))}
	}
	t := &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: h.o.C + 4,
		IdleConnTimeout:     90 * time.Second,
	}
	h.transports[g] = t
	return t
}

// newClient is a browser with its own cookies, connecting from the source
// addresses of group g.
func (h *httpSide) newClient(g int) *apiclient.Client {
	return apiclient.New(h.o.URL, h.transport(g))
}

// errKind names an error for the report: the HTTP status, "timeout" or
// "transport".
func errKind(err error) string {
	var he *apiclient.Error
	switch {
	case errors.As(err, &he):
		return strconv.Itoa(he.Status)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "transport"
}

// do sends one request within -timeout and reads the whole answer into out
// (nil: not decoded). A status other than want is an *apiclient.Error.
func (h *httpSide) do(ctx context.Context, c *apiclient.Client, method, path string, body []byte, contentType string, want int, out any) error {
	ctx, cancel := context.WithTimeout(ctx, h.o.Timeout)
	defer cancel()
	r, err := c.Do(ctx, method, path, body, contentType, nil)
	if err != nil {
		return err
	}
	if err := r.Err(); err != nil {
		return err
	}
	if r.Status != want {
		return &apiclient.Error{Method: method, Path: path, Status: r.Status, Message: fmt.Sprintf("want %d", want)}
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// signIn signs c in as email. A 429 (sign-in rate limit) is waited out,
// within the run's deadline.
func (h *httpSide) signIn(ctx context.Context, c *apiclient.Client, email, password string) error {
	for {
		sctx, cancel := context.WithTimeout(ctx, h.o.Timeout)
		err := c.SignIn(sctx, email, password)
		cancel()
		if err == nil || errKind(err) != "429" {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(5 * time.Second):
		}
	}
}

// setup signs the admin in, creates o.N reps and signs each one in (which
// completes their account step). Not timed as part of the benchmark.
func (h *httpSide) setup(ctx context.Context, r *Report) ([]*apiclient.Client, error) {
	o := h.o
	admin := h.newClient(0)
	if err := h.signIn(ctx, admin, o.Admin, o.Password); err != nil {
		return nil, fmt.Errorf("sign in as admin %s: %w", o.Admin, err)
	}
	if admin.User.Role != onramp.RoleAdmin {
		return nil, fmt.Errorf("%s is a %s, not an admin", o.Admin, admin.User.Role)
	}
	password := "loadgen-" + r.RunID

	created := newRecorder("create")
	emails := make([]string, o.N)
	var firstErr error
	var errOnce sync.Once
	start := time.Now()
	parallel(ctx, o.N, o.C, func(i int) {
		email := fmt.Sprintf("%s-%05d@loadgen.onramp.test", r.RunID, i)
		body, _ := json.Marshal(map[string]string{"email": email, "name": fmt.Sprintf("Loadgen Rep %d", i), "password": password})
		t0 := time.Now()
		if err := h.do(ctx, admin, "POST", "/api/v1/admin/reps", body, "application/json", http.StatusCreated, nil); err != nil {
			created.fail("create", errKind(err))
			errOnce.Do(func() { firstErr = err })
			return
		}
		created.ok("create", time.Since(t0))
		emails[i] = email
	})
	r.Setup.CreateWallSeconds = time.Since(start).Seconds()
	var cp Phase
	created.fill(&cp)
	r.Setup.CreatedReps, r.Setup.CreateRep = cp.Requests, cp.All
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, fmt.Errorf("create reps: %w", firstErr)
	}

	signed := newRecorder("sign in")
	reps := make([]*apiclient.Client, o.N)
	start = time.Now()
	parallel(ctx, o.N, o.C, func(i int) {
		c := h.newClient(1 + i/repsPerSource)
		t0 := time.Now()
		if err := h.signIn(ctx, c, emails[i], password); err != nil {
			signed.fail("sign in", errKind(err))
			errOnce.Do(func() { firstErr = err })
			return
		}
		signed.ok("sign in", time.Since(t0))
		reps[i] = c
	})
	r.Setup.SignInWallSeconds = time.Since(start).Seconds()
	var sp Phase
	signed.fill(&sp)
	r.Setup.SignIn, r.Setup.SignInErrors = sp.All, sp.Errors
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, fmt.Errorf("sign reps in: %w", firstErr)
	}
	h.admin = admin
	return reps, nil
}

// onboard is the timed Onramp phase: every rep does the nine step requests,
// o.C reps at a time. Then it counts, through the admin API, the created
// reps that are ready.
func (h *httpSide) onboard(ctx context.Context, reps []*apiclient.Client, r *Report) error {
	rec := newRecorder(stepKeys()...)
	var completed atomic.Int64
	samples := &errSamples{}
	start := time.Now()
	parallel(ctx, len(reps), h.o.C, func(i int) {
		c := reps[i]
		for _, st := range timedSteps() {
			var p onramp.Progress
			t0 := time.Now()
			err := h.do(ctx, c, st.method, st.path, st.body, st.contentType, http.StatusOK, &p)
			d := time.Since(t0)
			if err != nil {
				rec.fail(st.key, errKind(err))
				samples.add(err)
				return // the rep's later steps would fail too
			}
			rec.ok(st.key, d)
			if st.key == "finish" && p.Finished {
				completed.Add(1)
			}
		}
	})
	p := &r.Onramp
	p.WallSeconds = time.Since(start).Seconds()
	p.Workflows, p.Completed = len(reps), int(completed.Load())
	rec.fill(p)
	p.ErrorSamples = samples.list()
	if err := ctx.Err(); err != nil {
		return err
	}
	return h.verifyReady(ctx, reps, r)
}

// verifyReady counts the reps the admin API (the Postgres projection)
// lists as ready, waiting a little for the projection to settle.
func (h *httpSide) verifyReady(ctx context.Context, reps []*apiclient.Client, r *Report) error {
	ids := map[string]bool{}
	for _, c := range reps {
		ids[c.User.ID] = true
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var list []onramp.RepSummary
		if err := h.do(ctx, h.admin, "GET", "/api/v1/admin/reps", nil, "", http.StatusOK, &list); err != nil {
			return fmt.Errorf("list reps: %w", err)
		}
		ready := 0
		for _, s := range list {
			if ids[s.ID] && s.Status == onramp.UserReady {
				ready++
			}
		}
		r.ReadyVerified = ready
		if ready >= r.Onramp.Completed || time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// errSamples keeps the first few distinct error messages.
type errSamples struct {
	mu   sync.Mutex
	msgs []string
}

func (s *errSamples) add(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := err.Error()
	if len(s.msgs) >= 5 {
		return
	}
	for _, x := range s.msgs {
		if x == m {
			return
		}
	}
	s.msgs = append(s.msgs, m)
}

func (s *errSamples) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msgs
}
