package loadgen

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// hub is a fake server's fan-out: every open stream gets every message.
type hub struct {
	mu      sync.Mutex
	streams map[chan string]bool
}

func newHub() *hub { return &hub{streams: map[chan string]bool{}} }

func (h *hub) broadcast(frame string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.streams {
		ch <- frame
	}
}

// serve writes first, then every broadcast frame, until the client goes.
func (h *hub) serve(w http.ResponseWriter, r *http.Request, first string) {
	ch := make(chan string, 1000)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, first)
	w.(http.Flusher).Flush()
	h.mu.Lock()
	h.streams[ch] = true
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.streams, ch)
		h.mu.Unlock()
	}()
	for {
		select {
		case <-r.Context().Done():
			return
		case f := <-ch:
			io.WriteString(w, f)
			w.(http.Flusher).Flush()
		}
	}
}

// fakeCentrifugo answers /connection/uni_sse (checking the token) and
// /api/publish and /api/batch (checking the API key) as Centrifugo does.
func fakeCentrifugo(t *testing.T, apiKey, secret string) *httptest.Server {
	h := newHub()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /connection/uni_sse", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Token string }
		if err := json.Unmarshal([]byte(r.URL.Query().Get("cf_connect")), &req); err != nil {
			http.Error(w, "bad connect", 400)
			return
		}
		parts := strings.Split(req.Token, ".")
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(parts[0] + "." + parts[1]))
		if len(parts) != 3 || parts[2] != base64.RawURLEncoding.EncodeToString(m.Sum(nil)) {
			http.Error(w, "bad token", 401)
			return
		}
		h.serve(w, r, "\r\ndata: {\"connect\":{\"client\":\"c\",\"subs\":{\"#u\":{}}}}\n\n")
	})
	publish := func(p struct {
		Channel string
		Data    json.RawMessage
	}) {
		h.broadcast(fmt.Sprintf("data: {\"push\":{\"channel\":%q,\"pub\":{\"data\":%s}}}\n\n", p.Channel, p.Data))
	}
	mux.HandleFunc("POST /api/publish", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-API-Key") != apiKey {
			http.Error(w, "unauthorized", 401)
			return
		}
		var p struct {
			Channel string
			Data    json.RawMessage
		}
		json.NewDecoder(r.Body).Decode(&p)
		publish(p)
		io.WriteString(w, `{"result":{}}`)
	})
	mux.HandleFunc("POST /api/batch", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Commands []struct {
				Publish struct {
					Channel string
					Data    json.RawMessage
				}
			}
		}
		json.NewDecoder(r.Body).Decode(&b)
		for _, c := range b.Commands {
			publish(c.Publish)
		}
		io.WriteString(w, `{"replies":[]}`)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// fakeOnramp answers the session, API-key, visitor-event and event-stream
// endpoints as docs/REALTIME.md describes them.
func fakeRealtimeOnramp(t *testing.T) *httptest.Server {
	h := newHub()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/session", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Email, Password string }
		json.NewDecoder(r.Body).Decode(&in)
		if in.Password != demoPassword {
			http.Error(w, `{"code":"unauthorized"}`, 401)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "onramp_session", Value: "s-" + in.Email, Path: "/"})
		json.NewEncoder(w).Encode(map[string]any{"user": map[string]string{"email": in.Email}, "csrf_token": "t"})
	})
	mux.HandleFunc("POST /api/v1/admin/api-keys", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("onramp_session"); err != nil || c.Value != "s-"+demoAdmin {
			http.Error(w, "forbidden", 403)
			return
		}
		w.WriteHeader(201)
		io.WriteString(w, `{"id":"k1","name":"x","key":"secret-key"}`)
	})
	mux.HandleFunc("DELETE /api/v1/admin/api-keys/k1", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(204)
	})
	mux.HandleFunc("GET /api/v1/events", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("onramp_session"); err != nil || c.Value != "s-rep@demo.onramp.test" {
			http.Error(w, "unauthorized", 401)
			return
		}
		h.serve(w, r, "event: ready\nid: 0\ndata: {\"cursor\":\"0\"}\n\n: hi\n\n")
	})
	var seq sync.Mutex
	n := 0
	mux.HandleFunc("POST /api/v1/visitor-events", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer secret-key" {
			http.Error(w, "unauthorized", 401)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var evs []onrampVisitorEvent
		var batch struct{ Events []onrampVisitorEvent }
		if json.Unmarshal(body, &batch) == nil && len(batch.Events) > 0 {
			evs = batch.Events
		} else {
			var ev onrampVisitorEvent
			json.Unmarshal(body, &ev)
			evs = append(evs, ev)
		}
		for _, ev := range evs {
			if ev.Type != "vip" || ev.OwnerRep != "rep@demo.onramp.test" {
				http.Error(w, "bad event", 422)
				return
			}
		}
		seq.Lock()
		for _, ev := range evs {
			n++
			h.broadcast(fmt.Sprintf("event: notification\nid: %d\ndata: {\"notification\":{\"stream\":\"vip\",\"data\":{\"event_id\":%q}}}\n\n", n, ev.ID))
		}
		seq.Unlock()
		w.WriteHeader(202)
		fmt.Fprintf(w, `{"accepted":%d,"duplicates":0,"notified":%d}`, len(evs), len(evs))
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func checkRun(t *testing.T, r *SSEReport, err error, n, messages, burst int) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if r.Connect.Connected != n || r.Connect.HeldAtEnd != n {
		t.Fatalf("connected %d, held at the end %d; want %d (errors %s, dropped %s)", r.Connect.Connected, r.Connect.HeldAtEnd, n, r.Connect.Errors, r.Dropped)
	}
	for p, want := range []int{messages, burst} {
		ph := r.Phases[p]
		if ph.Published != want || ph.Delivered != int64(want*n) || ph.Expected != int64(want*n) || ph.Duplicates != 0 {
			t.Errorf("phase %s: published %d, delivered %d of %d, duplicates %d; want %d published, %d delivered (errors %s %q)",
				ph.Name, ph.Published, ph.Delivered, ph.Expected, ph.Duplicates, want, want*n, ph.PublishErrors, ph.PublishErrorSamples)
		}
		if ph.Latency.Count != want*n || ph.Latency.P50ms <= 0 || ph.Latency.P99ms < ph.Latency.P50ms {
			t.Errorf("phase %s: latency %+v", ph.Name, ph.Latency)
		}
		if ph.DeliveredPerSecond <= 0 {
			t.Errorf("phase %s: %v delivered/s", ph.Name, ph.DeliveredPerSecond)
		}
	}
	if r.UnknownFrames != 0 {
		t.Errorf("%d frames without a message of the run", r.UnknownFrames)
	}
	line := r.ResultLine()
	for _, k := range []string{"target=", fmt.Sprintf(" n=%d ", n), "lat_p99_ms=", "thr_delivered_per_s="} {
		if !strings.Contains(line, k) {
			t.Errorf("RESULT line %q lacks %q", line, k)
		}
	}
	var sb strings.Builder
	r.WriteTable(&sb)
	if !strings.Contains(sb.String(), "notifications/s delivered") {
		t.Errorf("table:\n%s", sb.String())
	}
}

func TestFanoutCentrifugo(t *testing.T) {
	s := fakeCentrifugo(t, "api-key", "hmac-secret")
	o, err := parseSSEFlags([]string{"-target", "centrifugo", "-url", s.URL, "-n", "25", "-ramp", "0",
		"-messages", "3", "-interval", "5ms", "-burst", "20", "-bursts", "2", "-publishers", "3", "-batch", "4",
		"-centrifugo-api-key", "api-key", "-centrifugo-secret", "hmac-secret", "-drain", "5s", "-settle", "0",
		"-server-pid", fmt.Sprint(os.Getpid())}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := runFanout(ctx, o, io.Discard)
	checkRun(t, r, err, 25, 3, 40)
	if r.Phases[phaseThroughput].Rounds != 2 {
		t.Errorf("throughput rounds = %d, want 2", r.Phases[phaseThroughput].Rounds)
	}
	if r.Memory.RSSBeforeKB <= 0 || r.Memory.RSSWithClientsKB <= 0 {
		t.Errorf("memory %+v", r.Memory)
	}
}

func TestFanoutOnramp(t *testing.T) {
	s := fakeRealtimeOnramp(t)
	o, err := parseSSEFlags([]string{"-target", "onramp", "-url", s.URL, "-n", "20", "-ramp", "500",
		"-messages", "2", "-interval", "5ms", "-burst", "30", "-publishers", "2", "-drain", "5s", "-settle", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := runFanout(ctx, o, io.Discard)
	checkRun(t, r, err, 20, 2, 30)
}

func TestFanoutFailures(t *testing.T) {
	// A stream endpoint that refuses: every client fails, with the status.
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/session" {
			http.SetCookie(w, &http.Cookie{Name: "onramp_session", Value: "x", Path: "/"})
			io.WriteString(w, `{"user":{},"csrf_token":"t"}`)
			return
		}
		http.Error(w, "nope", 503)
	}))
	defer s.Close()
	o, err := parseSSEFlags([]string{"-target", "onramp", "-url", s.URL, "-n", "5", "-api-key", "k", "-settle", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r, err := runFanout(context.Background(), o, io.Discard)
	if err == nil || r.Connect.Errors["503"] != 5 {
		t.Fatalf("err %v, connect errors %s; want every client refused with 503", err, r.Connect.Errors)
	}
}

func TestParseSSEFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-target", "onramp", "-url", "http://10.0.0.1:8080"},
		{"-target", "centrifugo"},
		{"-target", "onramp", "-header", "novalue"},
		{"-target", "onramp", "-batch", "101"},
	} {
		if _, err := parseSSEFlags(args, io.Discard); err == nil {
			t.Errorf("parseSSEFlags(%q): no error", args)
		}
	}
}
