package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/workflows"
)

// lgStep is one Update-backed request of the wizard, and the Update the
// bare workflow takes in its place.
type lgStep struct {
	key, method, path string
	body              []byte
	contentType       string
	update            string
	arg               any // nil: the Update takes no argument
}

const lgStepsPath = "/api/v1/reps/me/onboarding/steps/"

// lgSteps are the nine timed requests of one rep: every step built so far
// (the account step is done at sign-in, in the setup).
var lgSteps = sync.OnceValue(func() []lgStep {
	prof := onramp.Profile{FirstName: "Load", LastName: "Generator", Title: "Here to help you find your perfect solution!"}
	form, ct := profileForm(prof.FirstName, prof.LastName, prof.Title, "loadgen.png", gradientPNG(96, 96))
	av := onramp.DefaultAvailability("Europe/Paris")
	n := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams)
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
	steps := []lgStep{
		{key: "profile", method: "PUT", path: lgStepsPath + "profile", body: form, contentType: ct, update: workflows.UpdateProfile, arg: prof},
		{key: "availability", method: "PUT", path: lgStepsPath + "availability", body: js(av), contentType: "application/json", update: workflows.UpdateAvailability, arg: av},
		{key: "notifications", method: "PUT", path: lgStepsPath + "notifications", body: js(n), contentType: "application/json", update: workflows.UpdateNotifications, arg: n},
		{key: "browser", method: "PUT", path: lgStepsPath + "browser", body: js(b), contentType: "application/json", update: workflows.UpdateBrowser, arg: b},
	}
	for _, k := range []onramp.StepKey{onramp.StepCalendar, onramp.StepMeeting, onramp.StepCRM, onramp.StepApps} {
		steps = append(steps, lgStep{key: "skip " + string(k), method: "POST", path: lgStepsPath + string(k) + "/skip", update: workflows.UpdateSkip, arg: workflows.StepInput{Step: k}})
	}
	return append(steps, lgStep{key: "finish", method: "POST", path: lgStepsPath + "finish", update: workflows.UpdateFinish})
})

func lgStepKeys() []string {
	var keys []string
	for _, s := range lgSteps() {
		keys = append(keys, s.key)
	}
	return keys
}

// repsPerSource is how many simulated reps share one client address. The
// API limits sign-ins per client address (30 a minute); the reps of a real
// org sign in from many addresses, so loadgen spreads its reps over source
// addresses of the loopback network (127.0.0.0/8 is all local on Linux).
const repsPerSource = 20

// loadgenHTTP is the HTTP side: the admin and one browser-like client
// (cookie jar + CSRF token) per rep.
type loadgenHTTP struct {
	o    loadgenOptions
	bind bool // the target is IPv4 loopback: spread source addresses
	// srcBase offsets this run's source addresses, so that back-to-back
	// runs do not share the server's per-address sign-in counters.
	srcBase int

	admin *lgClient // signed in by setup

	mu         sync.Mutex
	transports map[int]*http.Transport
}

type lgClient struct {
	http  *http.Client
	csrf  string
	user  onramp.User
	email string
}

func newLoadgenHTTP(o loadgenOptions) *loadgenHTTP {
	h := &loadgenHTTP{o: o, transports: map[int]*http.Transport{}, srcBase: mrand.IntN(1 << 20)}
	if u, err := url.Parse(o.URL); err == nil {
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.To4() != nil && ip.IsLoopback() {
			h.bind = true
		}
	}
	return h
}

func (h *loadgenHTTP) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range h.transports {
		t.CloseIdleConnections()
	}
}

// transport is the connection pool of source group g (0: the default
// source address).
func (h *loadgenHTTP) transport(g int) *http.Transport {
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

func (h *loadgenHTTP) newClient(g int) *lgClient {
	jar, _ := cookiejar.New(nil)
	return &lgClient{http: &http.Client{Jar: jar, Transport: h.transport(g)}}
}

// httpError is a non-2xx answer.
type httpError struct {
	method, path string
	status       int
	body         string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.body)
}

// errKind names an error for the report: the HTTP status, "timeout" or
// "transport".
func errKind(err error) string {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return strconv.Itoa(he.status)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "transport"
}

// do sends one request and reads the whole answer; a status other than
// want (or any non-2xx when want is 0) is an *httpError.
func (h *loadgenHTTP) do(ctx context.Context, c *lgClient, method, path string, body []byte, contentType string, want int, out any) error {
	ctx, cancel := context.WithTimeout(ctx, h.o.Timeout)
	defer cancel()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.o.URL+path, r)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if (want != 0 && resp.StatusCode != want) || resp.StatusCode >= 300 {
		if len(b) > 300 {
			b = b[:300]
		}
		return &httpError{method, path, resp.StatusCode, string(bytes.TrimSpace(b))}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// signIn signs c in as email. A 429 (sign-in rate limit) is waited out,
// within the run's deadline.
func (h *loadgenHTTP) signIn(ctx context.Context, c *lgClient, email, password string) error {
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	for {
		var out struct {
			User      onramp.User `json:"user"`
			CSRFToken string      `json:"csrf_token"`
		}
		err := h.do(ctx, c, "POST", "/api/v1/session", body, "application/json", http.StatusOK, &out)
		if errKind(err) == "429" {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(5 * time.Second):
				continue
			}
		}
		if err != nil {
			return err
		}
		c.csrf, c.user, c.email = out.CSRFToken, out.User, email
		return nil
	}
}

// setup signs the admin in, creates o.N reps and signs each one in (which
// completes their account step). Not timed as part of the benchmark.
func (h *loadgenHTTP) setup(ctx context.Context, r *loadgenReport) ([]*lgClient, error) {
	o := h.o
	admin := h.newClient(0)
	if err := h.signIn(ctx, admin, o.Admin, o.Password); err != nil {
		return nil, fmt.Errorf("sign in as admin %s: %w", o.Admin, err)
	}
	if admin.user.Role != onramp.RoleAdmin {
		return nil, fmt.Errorf("%s is a %s, not an admin", o.Admin, admin.user.Role)
	}
	password := "loadgen-" + r.RunID

	created := newRecorder("create")
	reps := make([]*lgClient, o.N)
	var firstErr error
	var errOnce sync.Once
	start := time.Now()
	parallel(ctx, o.N, o.C, func(i int) {
		email := fmt.Sprintf("%s-%05d@loadgen.onramp.test", r.RunID, i)
		body, _ := json.Marshal(map[string]string{"email": email, "name": fmt.Sprintf("Loadgen Rep %d", i), "password": password})
		var u onramp.User
		t0 := time.Now()
		if err := h.do(ctx, admin, "POST", "/api/v1/admin/reps", body, "application/json", http.StatusCreated, &u); err != nil {
			created.fail("create", errKind(err))
			errOnce.Do(func() { firstErr = err })
			return
		}
		created.ok("create", time.Since(t0))
		reps[i] = &lgClient{email: email, user: u}
	})
	r.Setup.CreateWallSeconds = time.Since(start).Seconds()
	var cp lgPhase
	created.fill(&cp)
	r.Setup.CreatedReps, r.Setup.CreateRep = cp.Requests, cp.All
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, fmt.Errorf("create reps: %w", firstErr)
	}

	signed := newRecorder("sign in")
	start = time.Now()
	parallel(ctx, o.N, o.C, func(i int) {
		c := h.newClient(1 + i/repsPerSource)
		t0 := time.Now()
		if err := h.signIn(ctx, c, reps[i].email, password); err != nil {
			signed.fail("sign in", errKind(err))
			errOnce.Do(func() { firstErr = err })
			return
		}
		signed.ok("sign in", time.Since(t0))
		reps[i] = c
	})
	r.Setup.SignInWallSeconds = time.Since(start).Seconds()
	var sp lgPhase
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
func (h *loadgenHTTP) onboard(ctx context.Context, reps []*lgClient, r *loadgenReport) error {
	rec := newRecorder(lgStepKeys()...)
	var completed atomic.Int64
	samples := &errSamples{}
	start := time.Now()
	parallel(ctx, len(reps), h.o.C, func(i int) {
		c := reps[i]
		for _, st := range lgSteps() {
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
func (h *loadgenHTTP) verifyReady(ctx context.Context, reps []*lgClient, r *loadgenReport) error {
	ids := map[string]bool{}
	for _, c := range reps {
		ids[c.user.ID] = true
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
