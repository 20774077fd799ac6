package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/api"
	"github.com/onramp/onramp/postgres"
	"github.com/onramp/onramp/postgres/pgtest"
	"github.com/onramp/onramp/realtime"
	"github.com/onramp/onramp/redisbus"
)

const password = "correct horse battery"

// rtWorld is an org with two ready reps and an admin, another org with a
// rep, in a fresh database, and what an API process needs around it.
type rtWorld struct {
	db                *postgres.DB
	users             *postgres.UserService
	store             *postgres.Store
	org, other        *onramp.Org
	rep, rep2, admin  *onramp.User
	otherRep          *onramp.User
	redisAddr, prefix string
	key, otherKey     string
	feeds             api.Feeds // default: store
}

func newRTWorld(t *testing.T, redisAddr string) *rtWorld {
	t.Helper()
	ctx := context.Background()
	w := &rtWorld{db: pgtest.MustOpen(t), redisAddr: redisAddr, prefix: "test-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	w.users, w.store = postgres.NewUserService(w.db), postgres.NewStore(w.db)
	mkOrg := func(slug string) *onramp.Org {
		o := &onramp.Org{Name: slug, Slug: slug}
		if err := w.users.CreateOrg(ctx, o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	mkUser := func(org *onramp.Org, email string, role onramp.Role) *onramp.User {
		u, err := w.users.CreateUser(ctx, onramp.NewUser{OrgID: org.ID, Email: email, Name: email, Role: role, Password: password})
		if err != nil {
			t.Fatal(err)
		}
		if role == onramp.RoleRep {
			if err := w.users.SetUserStatus(ctx, org.ID, u.ID, onramp.UserReady); err != nil {
				t.Fatal(err)
			}
		}
		return u
	}
	w.org, w.other = mkOrg("acme"), mkOrg("globex")
	w.rep, w.rep2 = mkUser(w.org, "rep@acme.test", onramp.RoleRep), mkUser(w.org, "rep2@acme.test", onramp.RoleRep)
	w.admin = mkUser(w.org, "admin@acme.test", onramp.RoleAdmin)
	w.otherRep = mkUser(w.other, "rep@globex.test", onramp.RoleRep)
	var err error
	if _, w.key, err = w.store.CreateAPIKey(ctx, w.org.ID, w.admin.ID, "site"); err != nil {
		t.Fatal(err)
	}
	if _, w.otherKey, err = w.store.CreateAPIKey(ctx, w.other.ID, "", "site"); err != nil {
		t.Fatal(err)
	}
	return w
}

// process is one API process: its own Redis client, bus and pool users,
// sharing the world's database and Redis.
type process struct {
	srv  *httptest.Server
	bus  *redisbus.Bus
	rdb  *redis.Client
	push *realtime.PushLog
}

func (w *rtWorld) start(t *testing.T) *process {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: w.redisAddr, MaxRetries: 1, DialTimeout: time.Second})
	bus := redisbus.New(rdb, w.prefix)
	p := &process{bus: bus, rdb: rdb, push: realtime.NewPushLog(100)}
	presence := redisbus.NewPresence(rdb, w.prefix)
	rt := &realtime.Service{Store: w.store, Orgs: w.users, Bus: bus, Presence: presence, Push: p.push}
	var feeds api.Feeds = w.store
	if w.feeds != nil {
		feeds = w.feeds
	}
	s, err := api.New(api.Config{
		Users: w.users, Projection: w.store, Settings: w.store, Photos: w.store, Streams: w.store,
		Feeds: feeds, Realtime: rt, Chats: w.store, Keys: w.store, Presence: presence,
		Bus: bus, Limiter: redisbus.NewLimiter(rdb, w.prefix), SecretKey: testKey, Dev: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.srv = httptest.NewUnstartedServer(s)
	p.srv.Config = s.HTTPServer("")
	p.srv.Start()
	t.Cleanup(p.stop)
	return p
}

func (p *process) stop() {
	p.srv.CloseClientConnections()
	p.srv.Close()
	p.bus.Close()
	p.rdb.Close()
}

// client is a signed-in user's HTTP client.
type client struct {
	base string
	hc   *http.Client
	csrf string
}

func signIn(t *testing.T, base, email string) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{base: base, hc: &http.Client{Jar: jar}}
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	if st := c.do(t, "POST", "/api/v1/session", map[string]string{"email": email, "password": password}, &out); st != 200 {
		t.Fatalf("sign in %s: %d", email, st)
	}
	c.csrf = out.CSRFToken
	return c
}

// with points the client at another process (cookies are per host:
// copy them).
func (c *client) with(t *testing.T, base string) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	from, _ := http.NewRequest("GET", c.base, nil)
	to, _ := http.NewRequest("GET", base, nil)
	jar.SetCookies(to.URL, c.hc.Jar.Cookies(from.URL))
	return &client{base: base, hc: &http.Client{Jar: jar}, csrf: c.csrf}
}

func (c *client) do(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	st, raw := c.raw(t, method, path, body, nil)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, st, raw)
		}
	}
	return st
}

func (c *client) raw(t *testing.T, method, path string, body any, hdr map[string]string) (int, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-CSRF-Token", c.csrf)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// sse is an open event stream.
type sse struct {
	resp   *http.Response
	frames chan frame
	cancel context.CancelFunc
}

type frame struct{ id, event, data string }

// open opens path as an event stream, from cursor (none: "").
func (c *client) open(t *testing.T, path, cursor string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	if cursor != "" {
		req.Header.Set("Last-Event-ID", cursor)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	s := &sse{resp: resp, frames: make(chan frame, 1000), cancel: cancel}
	go func() {
		defer close(s.frames)
		sc := bufio.NewScanner(resp.Body)
		var f frame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if f.event != "" {
					s.frames <- f
				}
				f = frame{}
			case strings.HasPrefix(line, "id: "):
				f.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				f.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				f.data = line[6:]
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *sse) close() { s.cancel(); s.resp.Body.Close() }

// next returns the next frame whose event is not in skip.
func (s *sse) next(t *testing.T, skip ...string) frame {
	t.Helper()
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				t.Fatal("stream ended")
			}
			if !contains(skip, f.event) {
				return f
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10s")
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// sendEvents posts visitor events with key.
func sendEvents(t *testing.T, base, key string, events ...onramp.VisitorEvent) (int, []byte) {
	t.Helper()
	c := &client{base: base, hc: http.DefaultClient}
	return c.raw(t, "POST", "/api/v1/visitor-events", map[string]any{"events": events}, map[string]string{"Authorization": "Bearer " + key})
}

func vip(id, owner string) onramp.VisitorEvent {
	return onramp.VisitorEvent{ID: id, Type: onramp.VisitVIP, VisitorID: "v-" + id, Account: "Acme", OwnerRep: owner}
}

// notificationID is the visitor event ID a notification frame is about.
func notificationID(t *testing.T, f frame) string {
	t.Helper()
	var e onramp.Event
	var n onramp.Notification
	if f.event != onramp.EventNotification || json.Unmarshal([]byte(f.data), &e) != nil || json.Unmarshal(e.Data, &n) != nil {
		t.Fatalf("not a notification: %+v", f)
	}
	return n.EventID
}

const localRedis = "127.0.0.1:6379"

// Two API processes, one Redis: a rep's console on process A receives what
// the website sends through process B.
func TestNotificationAcrossProcesses(t *testing.T) {
	w := newRTWorld(t, localRedis)
	a, b := w.start(t), w.start(t)
	rep := signIn(t, a.srv.URL, w.rep.Email)
	s := rep.open(t, "/api/v1/events?console=1", "")
	if f := s.next(t); f.event != "ready" || f.id != "0" {
		t.Fatalf("first frame %+v, want ready at 0", f)
	}
	if st, body := sendEvents(t, b.srv.URL, w.key, vip("e1", w.rep.Email)); st != 202 {
		t.Fatalf("ingest: %d %s", st, body)
	}
	f := s.next(t)
	if notificationID(t, f) != "e1" || f.id != "1" {
		t.Fatalf("got %+v", f)
	}
	// A rep of the same org gets nothing of it.
	rep2 := signIn(t, b.srv.URL, w.rep2.Email)
	s2 := rep2.open(t, "/api/v1/events", "")
	s2.next(t) // ready
	sendEvents(t, a.srv.URL, w.key, vip("e2", w.rep.Email), vip("e3", w.rep2.Email))
	if id := notificationID(t, s2.next(t)); id != "e3" {
		t.Fatalf("rep2 got %s, want only e3", id)
	}
	if id := notificationID(t, s.next(t)); id != "e2" {
		t.Fatalf("rep got %s", id)
	}
}

// replay: a client at cursor; 100 notifications are sent while it is
// away; it reconnects with Last-Event-ID and gets exactly those 100, in
// order, then live ones.
func replay(t *testing.T, w *rtWorld, before, after func() *process) {
	t.Helper()
	p := before()
	rep := signIn(t, p.srv.URL, w.rep.Email)
	s := rep.open(t, "/api/v1/events", "")
	ready := s.next(t)
	sendEvents(t, p.srv.URL, w.key, vip("first", w.rep.Email))
	cursor := s.next(t).id
	s.close()

	var batch []onramp.VisitorEvent
	for i := range 100 {
		batch = append(batch, vip(fmt.Sprintf("m%03d", i), w.rep.Email))
	}
	if st, body := sendEvents(t, p.srv.URL, w.key, batch...); st != 202 {
		t.Fatalf("ingest: %d %s", st, body)
	}
	q := after()
	rep = rep.with(t, q.srv.URL)
	next := rep.follow(t, "/api/v1/events", cursor)
	for i := 0; i < 100; {
		f := next()
		if f.event == "ready" {
			continue
		}
		if id := notificationID(t, f); id != fmt.Sprintf("m%03d", i) {
			t.Fatalf("replayed #%d is %s", i, id)
		}
		if f.id != strconv.Itoa(mustAtoi(cursor)+i+1) {
			t.Fatalf("replayed #%d has id %s", i, f.id)
		}
		i++
	}
	if f := next(); f.event != "ready" || f.id != strconv.Itoa(mustAtoi(ready.id)+101) {
		t.Fatalf("after the replay: %+v", f)
	}
	sendEventsRetry(t, q.srv.URL, w.key, vip("live", w.rep.Email))
	f := next()
	for f.event == "ready" {
		f = next()
	}
	if id := notificationID(t, f); id != "live" {
		t.Fatalf("live after replay: %s", id)
	}
}

// follow reads path like EventSource: when the stream ends, it opens it
// again from the last id received. It returns the reader of the next frame.
func (c *client) follow(t *testing.T, path, cursor string) func() frame {
	last := cursor
	s := c.open(t, path, last)
	return func() frame {
		t.Helper()
		for range 20 {
			select {
			case f, ok := <-s.frames:
				if !ok {
					time.Sleep(100 * time.Millisecond)
					s = c.open(t, path, last)
					continue
				}
				if f.id != "" {
					last = f.id
				}
				return f
			case <-time.After(10 * time.Second):
				t.Fatal("no event within 10s")
			}
		}
		t.Fatal("the stream keeps ending")
		return frame{}
	}
}

func mustAtoi(s string) int { n, _ := strconv.Atoi(s); return n }

func TestReplayAfterDisconnect(t *testing.T) {
	w := newRTWorld(t, localRedis)
	p := w.start(t)
	replay(t, w, func() *process { return p }, func() *process { return p })
}

// The API process the client was on is gone (restarted): another one
// replays the same.
func TestReplayAcrossAPIRestart(t *testing.T) {
	w := newRTWorld(t, localRedis)
	var p *process
	replay(t, w, func() *process { p = w.start(t); return p }, func() *process { p.stop(); return w.start(t) })
}

// Redis restarts between the disconnect and the reconnect, and again while
// the client is connected: nothing is lost, nothing is doubled.
func TestReplayAcrossRedisRestart(t *testing.T) {
	r := startRedis(t)
	w := newRTWorld(t, r.addr)
	p := w.start(t)
	replay(t, w, func() *process { return p }, func() *process { r.restart(t); return p })

	// Connected through a restart: an event sent just after it arrives
	// live, or (if the bus had not subscribed again yet) by the resume
	// from the cursor, once.
	rep := signIn(t, p.srv.URL, w.rep.Email)
	next := rep.follow(t, "/api/v1/events", "")
	if f := next(); f.event != "ready" {
		t.Fatalf("first frame %+v", f)
	}
	r.restart(t)
	if st, body := sendEventsRetry(t, p.srv.URL, w.key, vip("during", w.rep.Email)); st != 202 {
		t.Fatalf("ingest after restart: %d %s", st, body)
	}
	sendEventsRetry(t, p.srv.URL, w.key, vip("after", w.rep.Email))
	var got []string
	for len(got) < 2 {
		if f := next(); f.event == onramp.EventNotification {
			got = append(got, notificationID(t, f))
		}
	}
	if fmt.Sprint(got) != "[during after]" {
		t.Fatalf("got %v", got)
	}
}

// sendEventsRetry retries while Redis comes back (the rate limiter needs it).
func sendEventsRetry(t *testing.T, base, key string, events ...onramp.VisitorEvent) (st int, body []byte) {
	for range 50 {
		if st, body = sendEvents(t, base, key, events...); st != 503 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	return
}

// redisServer is a private redis-server that a test can restart.
type redisServer struct {
	addr string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("no redis-server")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := &redisServer{addr: addr}
	r.start(t)
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *redisServer) start(t *testing.T) {
	t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	r.cmd = exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if c, err := net.Dial("tcp", r.addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
}

func (r *redisServer) stop(t *testing.T) {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

func (r *redisServer) restart(t *testing.T) { r.stop(t); r.start(t) }

func TestVisitorEventsBadInput(t *testing.T) {
	w := newRTWorld(t, localRedis)
	p := w.start(t)
	admin := signIn(t, p.srv.URL, w.admin.Email)
	var revoked struct{ ID, Key string }
	admin.do(t, "POST", "/api/v1/admin/api-keys", map[string]string{"name": "old"}, &revoked)
	if st := admin.do(t, "DELETE", "/api/v1/admin/api-keys/"+revoked.ID, nil, nil); st != 204 {
		t.Fatalf("revoke: %d", st)
	}
	anon := &client{base: p.srv.URL, hc: http.DefaultClient}
	post := func(key string, body []byte, ct string) (int, api.ErrorResponse) {
		hdr := map[string]string{"Content-Type": ct}
		if key != "" {
			hdr["Authorization"] = "Bearer " + key
		}
		st, raw := anon.raw(t, "POST", "/api/v1/visitor-events", body, hdr)
		var e api.ErrorResponse
		_ = json.Unmarshal(raw, &e)
		return st, e
	}
	good, _ := json.Marshal(vip("ok-1", w.rep.Email))
	many := make([]onramp.VisitorEvent, onramp.MaxVisitorBatch+1)
	for i := range many {
		many[i] = vip(fmt.Sprint("x", i), w.rep.Email)
	}
	manyJSON, _ := json.Marshal(map[string]any{"events": many})
	huge, _ := json.Marshal(map[string]any{"events": []onramp.VisitorEvent{{ID: "h", Type: "vip", VisitorID: "v", OwnerRep: w.rep.Email, Page: "https://x.test/" + strings.Repeat("a", 300<<10)}}})
	for _, tc := range []struct {
		name   string
		key    string
		body   []byte
		ct     string
		status int
		code   string
		field  string
	}{
		{"no key", "", good, "application/json", 401, onramp.EUNAUTHORIZED, ""},
		{"wrong key", "onr_wrong", good, "application/json", 401, onramp.EUNAUTHORIZED, ""},
		{"revoked key", revoked.Key, good, "application/json", 401, onramp.EUNAUTHORIZED, ""},
		{"oversize payload", w.key, huge, "application/json", 413, onramp.ETOOLARGE, ""},
		{"malformed JSON", w.key, []byte(`{"id": "x",`), "application/json", 400, onramp.EBADREQUEST, ""},
		{"not JSON", w.key, []byte(`id=x`), "application/x-www-form-urlencoded", 415, onramp.EUNSUPPORTED, ""},
		{"unknown event type", w.key, []byte(`{"id":"u","type":"purchase","visitor_id":"v","owner_rep":"rep@acme.test"}`), "application/json", 422, onramp.EINVALID, "events[0].type"},
		{"owner of another org", w.key, mustMarshal(vip("o", w.otherRep.Email)), "application/json", 422, onramp.EINVALID, "events[0].owner_rep"},
		{"too many events", w.key, manyJSON, "application/json", 422, onramp.EINVALID, "events"},
		{"no events", w.key, []byte(`{"events":[]}`), "application/json", 422, onramp.EINVALID, "events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, e := post(tc.key, tc.body, tc.ct)
			if st != tc.status || e.Code != tc.code || (tc.field != "" && e.Fields[tc.field] == "") || e.Message == "" {
				t.Fatalf("%d %+v, want %d %s %s", st, e, tc.status, tc.code, tc.field)
			}
		})
	}
	// Nothing of the refused batches was recorded.
	var n int
	if err := w.db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM visitor_events`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d visitor events recorded by refused requests", n)
	}
	// A duplicate event ID is accepted and counted, not routed again.
	for i, want := range []string{`"accepted":1,"duplicates":0,"notified":1`, `"accepted":0,"duplicates":1,"notified":0`} {
		st, raw := anon.raw(t, "POST", "/api/v1/visitor-events", good, map[string]string{"Authorization": "Bearer " + w.key, "Content-Type": "application/json"})
		if st != 202 || !strings.Contains(string(raw), want) {
			t.Fatalf("send #%d: %d %s", i, st, raw)
		}
	}
	// The key of one org cannot address another org's reps.
	if st, _ := sendEvents(t, p.srv.URL, w.otherKey, vip("g", w.rep.Email)); st != 422 {
		t.Fatalf("other org's key, this org's rep: %d", st)
	}
}

// Each API key has its own rate limit: over it, 429 with Retry-After and
// nothing recorded; another org's key is not slowed down.
func TestVisitorEventsRateLimit(t *testing.T) {
	t.Cleanup(api.SetIngestPerMinute(3)) // first registered: restored after the servers stop
	w := newRTWorld(t, localRedis)
	p := w.start(t)
	for i := range 3 {
		if st, body := sendEvents(t, p.srv.URL, w.key, vip(fmt.Sprint("r", i), w.rep.Email)); st != 202 {
			t.Fatalf("request %d: %d %s", i, st, body)
		}
	}
	c := &client{base: p.srv.URL, hc: http.DefaultClient}
	req, _ := http.NewRequest("POST", p.srv.URL+"/api/v1/visitor-events", bytes.NewReader(mustMarshal(vip("over", w.rep.Email))))
	req.Header.Set("Authorization", "Bearer "+w.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(raw), `"code":"rate_limited"`) {
		t.Fatalf("over the limit: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), raw)
	}
	var n int
	if err := w.db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM visitor_events WHERE event_id = 'over'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the refused event was recorded: %d %v", n, err)
	}
	if st, body := sendEvents(t, p.srv.URL, w.otherKey, vip("g1", w.otherRep.Email)); st != 202 {
		t.Fatalf("another org's key: %d %s", st, body)
	}
}

func mustMarshal(v any) []byte { b, _ := json.Marshal(v); return b }

// Chat end to end over the API, and who may touch what.
func TestChat(t *testing.T) {
	w := newRTWorld(t, localRedis)
	p := w.start(t)
	rep, rep2 := signIn(t, p.srv.URL, w.rep.Email), signIn(t, p.srv.URL, w.rep2.Email)
	console := rep.open(t, "/api/v1/events?console=1", "")
	console.next(t) // ready: rep is online now
	console2 := rep2.open(t, "/api/v1/events?console=1", "")
	console2.next(t)

	visitor := &client{base: p.srv.URL, hc: http.DefaultClient}
	var started struct {
		Conversation onramp.Conversation `json:"conversation"`
		Token        string              `json:"token"`
		Cursor       string              `json:"cursor"`
	}
	if st := visitor.do(t, "POST", "/api/v1/chat/acme/conversations", map[string]string{"name": "Ada", "message": "Is anyone there?"}, &started); st != 201 {
		t.Fatalf("start: %d", st)
	}
	id, auth := started.Conversation.ID, map[string]string{"Authorization": "Bearer " + started.Token}
	// Both online reps are told.
	for _, s := range []*sse{console, console2} {
		f := s.next(t)
		var e onramp.Event
		var n onramp.Notification
		_ = json.Unmarshal([]byte(f.data), &e)
		_ = json.Unmarshal(e.Data, &n)
		if n.Kind != "waiting_for_rep" || n.ConversationID != id || !n.Desktop {
			t.Fatalf("waiting notification: %+v", n)
		}
	}
	// Both accept at once: exactly one wins.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, c := range []*client{rep, rep2} {
		wg.Go(func() { codes[i] = c.do(t, "POST", "/api/v1/conversations/"+id+"/accept", nil, nil) })
	}
	wg.Wait()
	if !(codes[0] == 200 && codes[1] == 409 || codes[0] == 409 && codes[1] == 200) {
		t.Fatalf("accept: %v, want one 200 and one 409", codes)
	}
	winner, loser := rep, rep2
	if codes[1] == 200 {
		winner, loser = rep2, rep
	}
	// The visitor's page opens its stream only now, from the position its
	// start returned ("1": its first message): the acceptance meanwhile
	// is not missed.
	if started.Cursor != "1" {
		t.Fatalf("start cursor %q", started.Cursor)
	}
	vs := visitor.open(t, "/api/v1/chat/conversations/"+id+"/events?token="+started.Token, started.Cursor)
	if f := vs.next(t); f.event != onramp.EventChatState || !strings.Contains(f.data, `"state":"active"`) {
		t.Fatalf("visitor sees %+v", f)
	}
	if st := loser.do(t, "POST", "/api/v1/conversations/"+id+"/messages", map[string]string{"text": "me too"}, nil); st != 403 {
		t.Fatalf("the other rep writes: %d", st)
	}
	if st := winner.do(t, "POST", "/api/v1/conversations/"+id+"/messages", map[string]string{"text": "Hi Ada!"}, nil); st != 201 {
		t.Fatalf("rep writes: %d", st)
	}
	if f := vs.next(t, "ready"); f.event != onramp.EventChatMessage || !strings.Contains(f.data, "Hi Ada!") {
		t.Fatalf("visitor sees %+v", f)
	}
	if st, raw := visitor.raw(t, "POST", "/api/v1/chat/conversations/"+id+"/messages", map[string]string{"text": "Pricing?"}, auth); st != 201 {
		t.Fatalf("visitor writes: %d %s", st, raw)
	}
	// The visitor's history has all three messages.
	st, raw := visitor.raw(t, "GET", "/api/v1/chat/conversations/"+id, nil, auth)
	var conv struct{ Messages []onramp.ChatMessage }
	_ = json.Unmarshal(raw, &conv)
	if st != 200 || len(conv.Messages) != 3 || !strings.Contains(string(raw), `"cursor":"4"`) {
		t.Fatalf("history (3 messages, the acceptance: cursor 4): %d %s", st, raw)
	}

	// Bad input and other people's things.
	other, _, _, _ := w.store.StartConversation(context.Background(), w.org.ID, onramp.NewConversation{}, nil)
	globex := signIn(t, p.srv.URL, w.otherRep.Email)
	for _, tc := range []struct {
		name   string
		c      *client
		method string
		path   string
		body   any
		hdr    map[string]string
		status int
	}{
		{"visitor token of another conversation", visitor, "GET", "/api/v1/chat/conversations/" + other.ID, nil, auth, 404},
		{"visitor stream of another conversation", visitor, "GET", "/api/v1/chat/conversations/" + other.ID + "/events?token=" + started.Token, nil, nil, 404},
		{"no token", visitor, "GET", "/api/v1/chat/conversations/" + id, nil, nil, 401},
		{"empty message", visitor, "POST", "/api/v1/chat/conversations/" + id + "/messages", map[string]string{"text": " "}, auth, 422},
		{"unknown org", visitor, "POST", "/api/v1/chat/nope/conversations", map[string]string{}, nil, 404},
		{"rep of another org reads it", globex, "GET", "/api/v1/conversations/" + id, nil, nil, 404},
		{"rep of another org accepts", globex, "POST", "/api/v1/conversations/" + other.ID + "/accept", nil, nil, 404},
		{"rep of another org streams it", globex, "GET", "/api/v1/chat/conversations/" + id + "/events", nil, nil, 401},
		{"malformed cursor", rep, "GET", "/api/v1/events?last_event_id=1.x", nil, nil, 400},
		{"cursor not a number", rep, "GET", "/api/v1/events?last_event_id=abc", nil, nil, 400},
		{"negative cursor", rep, "GET", "/api/v1/events?last_event_id=-1", nil, nil, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if st, raw := tc.c.raw(t, tc.method, tc.path, tc.body, tc.hdr); st != tc.status || !strings.Contains(string(raw), `"code"`) {
				t.Fatalf("%d %s, want %d", st, raw, tc.status)
			}
		})
	}

	if st, _ := visitor.raw(t, "POST", "/api/v1/chat/conversations/"+id+"/end", nil, auth); st != 200 {
		t.Fatalf("end: %d", st)
	}
	if st := winner.do(t, "POST", "/api/v1/conversations/"+id+"/messages", map[string]string{"text": "bye"}, nil); st != 409 {
		t.Fatalf("write after end: %d", st)
	}
}

// countingFeeds counts the catch-up reads.
type countingFeeds struct {
	*postgres.Store
	mu    sync.Mutex
	since int
}

func (c *countingFeeds) FeedSince(ctx context.Context, orgID, feed string, after int64, limit int) ([]onramp.Event, bool, error) {
	c.mu.Lock()
	c.since++
	c.mu.Unlock()
	return c.Store.FeedSince(ctx, orgID, feed, after, limit)
}

func (c *countingFeeds) reads() int { c.mu.Lock(); defer c.mu.Unlock(); return c.since }

// Two writers commit in seq order and publish in the other: the stream
// waits for the missing one instead of reading Postgres, and delivers in
// order. One that never comes is read from Postgres after a moment.
func TestReorderedPublishes(t *testing.T) {
	w := newRTWorld(t, localRedis)
	counting := &countingFeeds{Store: w.store}
	w.feeds = counting
	p := w.start(t)
	rep := signIn(t, p.srv.URL, w.rep.Email)
	s := rep.open(t, "/api/v1/events", "")
	s.next(t) // ready
	ingest := func(ids ...string) []onramp.Event {
		var batch []onramp.VisitorEvent
		for _, id := range ids {
			batch = append(batch, vip(id, w.rep.Email))
		}
		res, err := w.store.IngestVisitorEvents(context.Background(), w.org.ID, batch, nil) // written, not published
		if err != nil {
			t.Fatal(err)
		}
		return res.Events
	}
	publish := func(e onramp.Event) {
		if err := p.bus.Publish(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	before := counting.reads()
	ev := ingest("a", "b")
	publish(ev[1])
	publish(ev[0])
	for _, want := range []string{"a", "b"} {
		if id := notificationID(t, s.next(t)); id != want {
			t.Fatalf("got %s, want %s", id, want)
		}
	}
	if n := counting.reads() - before; n != 0 {
		t.Fatalf("%d catch-up reads for a reordered pair, want 0", n)
	}
	ev = ingest("c", "d")
	publish(ev[1]) // c is never published
	for _, want := range []string{"c", "d"} {
		if id := notificationID(t, s.next(t)); id != want {
			t.Fatalf("got %s, want %s", id, want)
		}
	}
	if n := counting.reads() - before; n != 1 {
		t.Fatalf("%d catch-up reads for a lost publish, want 1", n)
	}
}

// A position of another shape (the user's role changed, so their stream
// has other feeds) is answered with a reset, not refused forever.
func TestCursorOfAnotherStream(t *testing.T) {
	w := newRTWorld(t, localRedis)
	p := w.start(t)
	admin := signIn(t, p.srv.URL, w.admin.Email)
	s := admin.open(t, "/api/v1/events", "3")
	if f := s.next(t); f.event != "reset" || strings.Count(f.id, ".") != 1 {
		t.Fatalf("first frame %+v, want a reset to a two-feed position", f)
	}
	if f := s.next(t); f.event != "ready" {
		t.Fatalf("then %+v", f)
	}
}

// Mobile pushes go to registered devices only, through the push sender.
func TestMobilePush(t *testing.T) {
	w := newRTWorld(t, localRedis)
	p := w.start(t)
	ctx := context.Background()
	prefs := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
	prefs.Streams[onramp.StreamVIP] = onramp.StreamPref{Desktop: true, Mobile: true}
	raw, _ := json.Marshal(prefs)
	if _, err := w.db.Pool().Exec(ctx, `INSERT INTO rep_settings (user_id, org_id, step, data, updated_at) VALUES ($1, $2, 'notifications', $3, now())`, w.rep.ID, w.org.ID, raw); err != nil {
		t.Fatal(err)
	}
	sendEvents(t, p.srv.URL, w.key, vip("before-device", w.rep.Email))
	if len(p.push.Sent()) != 0 {
		t.Fatal("pushed without a device")
	}
	if _, err := w.store.RegisterPushDevice(ctx, w.org.ID, w.rep.ID, "android", "fcm-1"); err != nil {
		t.Fatal(err)
	}
	sendEvents(t, p.srv.URL, w.key, vip("with-device", w.rep.Email))
	sent := p.push.Sent()
	if len(sent) != 1 || sent[0].Token != "fcm-1" || sent[0].Note.EventID != "with-device" {
		t.Fatalf("pushes %+v", sent)
	}
}
