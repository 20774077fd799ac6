package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/apiclient"
	"github.com/onramp/onramp/postgres/pgtest"
)

// syncBuffer is a goroutine-safe buffer for a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// env is the environment of one test system: its own database, data
// directory, Redis prefix and ports.
type env map[string]string

func newEnv(t testing.TB) env {
	t.Helper()
	return env{
		"DATABASE_URL":         pgtest.MustURL(t),
		"ONRAMP_DATA_DIR":      t.TempDir(),
		"ONRAMP_REDIS_PREFIX":  "test" + randomHex(6),
		"ONRAMP_LOG_LEVEL":     "warn",
		"ONRAMP_TEMPORAL_PORT": "0",
		"ONRAMP_SECRET_KEY":    "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	}
}

func (e env) getenv(k string) string { return e[k] }

func (e env) with(kv ...string) env {
	out := env{}
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// proc is one `onramp <cmd>` running in the test process through run.
type proc struct {
	Base   string
	Out    *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// mustStart runs `onramp args...` with e and, when it serves HTTP, waits
// until /readyz answers 200.
func mustStart(t testing.TB, e env, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &proc{Out: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	if args[0] == "dev" || args[0] == "serve" {
		port := freePort(t)
		e = e.with("ONRAMP_ADDR", fmt.Sprintf("127.0.0.1:%d", port))
		p.Base = fmt.Sprintf("http://127.0.0.1:%d", port)
	}
	go func() { p.done <- run(ctx, args, e.getenv, p.Out) }()
	t.Cleanup(func() { p.stop(t) })
	if p.Base == "" {
		return p
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("onramp %v exited: %v\n%s", args, err, p.Out)
		default:
		}
		resp, err := http.Get(p.Base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("onramp %v not ready after 60s\n%s", args, p.Out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop cancels the process like Ctrl-C and waits for it to return.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("onramp exited with %v\n%s", err, p.Out)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("onramp did not stop within 30s")
	}
}

// apiClient is a browser-like API client (apiclient.Client: a cookie jar
// and the CSRF token) that fails the test on a transport error. A copy
// shares the cookies: point it at another instance with Base.
type apiClient struct {
	t testing.TB
	apiclient.Client
}

func newClient(t testing.TB, base string) *apiClient {
	c := apiclient.New(base, nil)
	c.HTTP.Timeout = 30 * time.Second
	return &apiClient{t: t, Client: *c}
}

// mustLogin signs in through POST /api/v1/session.
func mustLogin(t testing.TB, base, email, password string) *apiClient {
	t.Helper()
	c := newClient(t, base)
	if err := c.SignIn(context.Background(), email, password); err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	return c
}

// response is an HTTP response read whole.
type response struct{ apiclient.Response }

// err is the application error in the body (the zero Error for a 2xx).
func (r response) err() onramp.Error {
	var e *apiclient.Error
	if !errors.As(r.Err(), &e) {
		return onramp.Error{}
	}
	return onramp.Error{Code: e.Code, Message: e.Message, Fields: e.Fields}
}

// raw sends a request; body may be nil, []byte (sent as is with
// contentType) or any value (sent as JSON). A header in hdr with an empty
// value is left out.
func (c *apiClient) raw(method, path string, body any, contentType string, hdr map[string]string) response {
	c.t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	default:
		j, err := json.Marshal(v)
		if err != nil {
			c.t.Fatal(err)
		}
		b, contentType = j, "application/json"
	}
	h := http.Header{}
	for k, v := range hdr {
		h.Set(k, v)
	}
	r, err := c.Do(context.Background(), method, path, b, contentType, h)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return response{*r}
}

// mustDo sends JSON and decodes a 2xx JSON answer into out.
func (c *apiClient) mustDo(method, path string, body, out any) int {
	c.t.Helper()
	r := c.raw(method, path, body, "", nil)
	if r.Status >= 300 {
		c.t.Logf("%s %s: %d %s", method, path, r.Status, r.Body)
		return r.Status
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, r.Body, err)
		}
	}
	return r.Status
}

func (c *apiClient) progress() onramp.Progress {
	c.t.Helper()
	var p onramp.Progress
	if st := c.mustDo("GET", "/api/v1/reps/me/onboarding", nil, &p); st != http.StatusOK {
		c.t.Fatalf("progress: %d", st)
	}
	return p
}

func (c *apiClient) submitProfile(first, last, title, filename string, photo []byte) response {
	c.t.Helper()
	body, ct := apiclient.ProfileForm(first, last, title, filename, photo)
	return c.raw("PUT", "/api/v1/reps/me/onboarding/steps/profile", body, ct, nil)
}

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	return apiclient.GradientPNG(w, h)
}

func statuses(p onramp.Progress) string {
	var b strings.Builder
	for _, s := range p.Steps {
		fmt.Fprintf(&b, "%s=%s ", s.Key, s.Status)
	}
	return b.String()
}

// waitFor polls cond until it is true or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
