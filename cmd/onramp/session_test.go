package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/apiclient"
)

// TestSessionsAndRetries: sign-in limits that a stranger cannot turn into
// a lockout, live streams that end with their session, and a step sent
// twice with the same idempotency key applied once. (What a rep's stream
// leaves out of a failure is checked in TestStuckRetry, with a real one.)
func TestSessionsAndRetries(t *testing.T) {
	e := newEnv(t)
	dev := mustStart(t, e, "dev")
	admin := mustLogin(t, dev.Base, adminEmail, demoPassword)
	mustCreateRep(t, admin, "known@example.com")
	// The rep's browser: known once signed in (its device cookie).
	rep := mustLogin(t, dev.Base, "known@example.com", "correct-horse-battery")
	signIn := func(t *testing.T) {
		t.Helper()
		rep.t = t
		if err := rep.SignIn(context.Background(), "known@example.com", "correct-horse-battery"); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("StrangerCannotLockOutAKnownBrowser", func(t *testing.T) {
		stranger := newClient(t, dev.Base)
		var last response
		for range 11 {
			last = stranger.raw("POST", "/api/v1/session", map[string]string{"email": "known@example.com", "password": "guess-guess-guess"}, "", nil)
		}
		got := last.err()
		if last.Status != http.StatusTooManyRequests || got.Code != onramp.ERATELIMITED {
			t.Fatalf("11th wrong password: %d %s", last.Status, last.Body)
		}
		// Retry-After is the limiter's real wait, and the message says it.
		ra, err := strconv.Atoi(last.Header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > 60 || !strings.Contains(got.Message, strconv.Itoa(ra)+" second") {
			t.Errorf("Retry-After %q, message %q", last.Header.Get("Retry-After"), got.Message)
		}
		// The rep's own browser still gets in: its device cookie has a
		// budget of its own.
		if err := rep.SignIn(context.Background(), "known@example.com", "correct-horse-battery"); err != nil {
			t.Fatalf("the rep's known browser is locked out: %v", err)
		}
		// A browser that never signed in as the rep is held back for the
		// minute, even with the right password.
		fresh := newClient(t, dev.Base)
		if r := fresh.raw("POST", "/api/v1/session", map[string]string{"email": "known@example.com", "password": "correct-horse-battery"}, "", nil); r.Status != http.StatusTooManyRequests {
			t.Errorf("a new browser during the lockout: %d", r.Status)
		}
	})

	t.Run("StreamEndsAtSignOut", func(t *testing.T) {
		signIn(t)
		ended := openStream(t, rep)
		if r := rep.raw("DELETE", "/api/v1/session", nil, "", nil); r.Status != http.StatusNoContent {
			t.Fatalf("sign out: %d", r.Status)
		}
		select {
		case <-ended:
		case <-time.After(10 * time.Second):
			t.Fatal("the live stream goes on after sign-out")
		}
	})

	t.Run("SameKeyAppliesOnce", func(t *testing.T) {
		signIn(t)
		body, ct := apiclient.ProfileForm("Ada", "Lovelace", "Expert", "me.png", pngBytes(t, 64, 64))
		key := map[string]string{"Idempotency-Key": "3f1c7a2e-profile-1"}
		first := rep.raw("PUT", "/api/v1/reps/me/onboarding/steps/profile", body, ct, key)
		again := rep.raw("PUT", "/api/v1/reps/me/onboarding/steps/profile", body, ct, key) // the rep retries after a 503
		if first.Status != http.StatusOK || again.Status != http.StatusOK {
			t.Fatalf("profile: %d then %d %s", first.Status, again.Status, again.Body)
		}
		var a, b onramp.Progress
		_ = json.Unmarshal(first.Body, &a)
		_ = json.Unmarshal(again.Body, &b)
		if a.Step(onramp.StepProfile).Attempts != 1 || b.Step(onramp.StepProfile).Attempts != 1 {
			t.Errorf("attempts %d then %d, want the step applied once", a.Step(onramp.StepProfile).Attempts, b.Step(onramp.StepProfile).Attempts)
		}
		var events []onramp.StepEvent
		rep.mustDo("GET", "/api/v1/reps/me/onboarding/events", nil, &events)
		n := 0
		for _, ev := range events {
			if ev.Step == onramp.StepProfile && ev.To == onramp.StatusDone {
				n++
			}
		}
		if n != 1 {
			t.Errorf("profile recorded done %d times", n)
		}
		// A new key is a new request.
		if r := rep.raw("PUT", "/api/v1/reps/me/onboarding/steps/profile", body, ct, map[string]string{"Idempotency-Key": "3f1c7a2e-profile-2"}); r.Status != http.StatusOK {
			t.Fatalf("new key: %d", r.Status)
		}
		if p := rep.progress(); p.Step(onramp.StepProfile).Attempts != 2 {
			t.Errorf("attempts %d after a second, different request", p.Step(onramp.StepProfile).Attempts)
		}
	})
}

// openStream opens the client's live stream and returns a channel closed
// when the server ends it.
func openStream(t *testing.T, c *apiClient) <-chan struct{} {
	t.Helper()
	lines := streamLines(t, c)
	ended := make(chan struct{})
	go func() {
		for range lines {
		}
		close(ended)
	}()
	return ended
}

// streamLines opens the client's live stream and returns its lines; the
// channel is closed when the stream ends.
func streamLines(t *testing.T, c *apiClient) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", c.Base+"/api/v1/events", nil)
	resp, err := c.HTTP.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("SSE: %v %v", err, resp)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines
}

// TestSignInConcurrentGuesses: wrong passwords sent all at once for one
// account count against its limit as they arrive, so no more than the
// limit get as far as the password check (checking the limit first and
// counting after the failure let them all through).
func TestSignInConcurrentGuesses(t *testing.T) {
	e := newEnv(t)
	dev := mustStart(t, e, "dev")
	admin := mustLogin(t, dev.Base, adminEmail, demoPassword)
	mustCreateRep(t, admin, "target@example.com")
	const guesses = 20
	var wg sync.WaitGroup
	statuses := make(chan int, guesses)
	for i := range guesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t, dev.Base)
			r, err := c.Do(context.Background(), "POST", "/api/v1/session",
				[]byte(`{"email":"target@example.com","password":"guess-`+strconv.Itoa(i)+`-guess"}`), "application/json", nil)
			if err != nil {
				t.Error(err)
				return
			}
			statuses <- r.Status
		}()
	}
	wg.Wait()
	close(statuses)
	checked := 0
	for st := range statuses {
		switch st {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
		default:
			t.Errorf("a guess got %d", st)
		}
	}
	if checked > 10 {
		t.Errorf("%d of %d concurrent guesses had their password checked, want at most 10", checked, guesses)
	}
}
