package loadgen

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/onramp/onramp/apiclient"
)

// publishClient is the HTTP client of the publishers: a pool of kept-alive
// connections, one per publisher.
func publishClient(o sseOptions) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: o.Publishers + 4,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// postJSON posts body to u with the headers hdr and returns the status and
// the answer.
func postJSON(ctx context.Context, hc *http.Client, u string, hdr http.Header, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header = hdr.Clone()
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// onrampTarget: visitor events in (POST /api/v1/visitor-events, the org's
// API key), the notifications of one signed-in rep out (GET
// /api/v1/events, every client with the rep's session cookie).
type onrampTarget struct {
	o      sseOptions
	hc     *http.Client
	apiKey string
	keyID  string // of the key this run created, revoked by cleanup
	admin  *apiclient.Client
	cookie string // the rep's session, as a Cookie header
	path   string
}

func newOnrampTarget(o sseOptions) *onrampTarget {
	path := o.StreamPath
	if path == "" {
		path = "/api/v1/events"
	}
	return &onrampTarget{o: o, hc: publishClient(o), path: path}
}

func (t *onrampTarget) setup(ctx context.Context, progress io.Writer) error {
	o := t.o
	t.apiKey = o.APIKey
	if t.apiKey == "" {
		t.admin = apiclient.New(o.URL, nil)
		sctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		if err := t.admin.SignIn(sctx, o.Admin, o.Password); err != nil {
			return fmt.Errorf("sign in as admin %s: %w", o.Admin, err)
		}
		var key struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Key  string `json:"key"`
		}
		name := "loadgen-sse-" + time.Now().UTC().Format("20060102T150405")
		if _, err := t.admin.JSON(sctx, http.MethodPost, "/api/v1/admin/api-keys", map[string]string{"name": name}, &key); err != nil {
			return fmt.Errorf("create an API key: %w", err)
		}
		if key.Key == "" {
			return fmt.Errorf("create an API key: no key in the answer")
		}
		t.apiKey, t.keyID = key.Key, key.ID
		fmt.Fprintf(progress, "setup: %s created API key %q\n", o.Admin, name)
	}
	rep := apiclient.New(o.URL, nil)
	sctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := rep.SignIn(sctx, o.Rep, o.RepPassword); err != nil {
		return fmt.Errorf("sign in as rep %s: %w", o.Rep, err)
	}
	u, err := url.Parse(o.URL + t.path)
	if err != nil {
		return err
	}
	var parts []string
	for _, c := range rep.HTTP.Jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	if len(parts) == 0 {
		return fmt.Errorf("sign in as rep %s: no session cookie for %s", o.Rep, u)
	}
	t.cookie = strings.Join(parts, "; ")
	fmt.Fprintf(progress, "setup: %s signed in; every client streams %s with that session\n", o.Rep, t.path)
	return nil
}

func (t *onrampTarget) streamRequest(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.o.URL+t.path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cookie", t.cookie)
	return req, nil
}

func (t *onrampTarget) connected(ev *sseEvent) bool { return string(ev.Event) == "ready" }

// onrampVisitorEvent is one visitor event as POST /api/v1/visitor-events
// takes it.
type onrampVisitorEvent struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	VisitorID string `json:"visitor_id"`
	Account   string `json:"account"`
	OwnerRep  string `json:"owner_rep"`
	Page      string `json:"page"`
	Name      string `json:"name"`
}

func (t *onrampTarget) publish(ctx context.Context, ids []string) error {
	evs := make([]onrampVisitorEvent, len(ids))
	for i, id := range ids {
		evs[i] = onrampVisitorEvent{
			ID: id, Type: "vip", VisitorID: "v-" + id, Account: "Loadgen Inc",
			OwnerRep: t.o.Rep, Page: "https://example.com/pricing", Name: "Load Generator",
		}
	}
	var body []byte
	var err error
	if len(evs) == 1 {
		body, err = json.Marshal(evs[0])
	} else {
		body, err = json.Marshal(map[string]any{"events": evs})
	}
	if err != nil {
		return err
	}
	hdr := http.Header{"Authorization": {"Bearer " + t.apiKey}}
	status, answer, err := postJSON(ctx, t.hc, t.o.URL+t.o.VisitorEventsPath, hdr, body)
	if err != nil {
		return err
	}
	if status != http.StatusAccepted {
		return &publishError{kind: fmt.Sprint(status), msg: fmt.Sprintf("POST %s: %d %s", t.o.VisitorEventsPath, status, trimAnswer(answer))}
	}
	var out struct {
		Accepted   int `json:"accepted"`
		Duplicates int `json:"duplicates"`
		Notified   int `json:"notified"`
	}
	if err := json.Unmarshal(answer, &out); err != nil {
		return &publishError{kind: "bad answer", msg: fmt.Sprintf("POST %s: %v: %s", t.o.VisitorEventsPath, err, trimAnswer(answer))}
	}
	if out.Accepted != len(ids) || out.Notified < len(ids) {
		return &publishError{kind: "not notified", msg: fmt.Sprintf("POST %s: %d events: %s", t.o.VisitorEventsPath, len(ids), trimAnswer(answer))}
	}
	return nil
}

func (t *onrampTarget) cleanup(ctx context.Context) {
	if t.admin != nil && t.keyID != "" {
		_, _ = t.admin.Do(ctx, http.MethodDelete, "/api/v1/admin/api-keys/"+url.PathEscape(t.keyID), nil, "", nil)
	}
}

func (t *onrampTarget) notes() []string {
	return []string{
		"onramp: every client is the same signed-in rep on " + t.path + "; each message is a visitor event of type vip with owner_rep " + t.o.Rep + ", found by its id as " + t.o.IDField + " in the notification.",
		"Latency runs from the start of POST " + t.o.VisitorEventsPath + " (which records the event and its notification in Postgres, then publishes on Redis) to the frame's arrival.",
	}
}

// centrifugoTarget: the server HTTP API in (POST /api/publish), the
// unidirectional SSE transport out, every client a connection of the same
// user and so subscribed to the user's personal channel #user.
type centrifugoTarget struct {
	o       sseOptions
	hc      *http.Client
	token   string
	path    string
	channel string
}

func newCentrifugoTarget(o sseOptions) *centrifugoTarget {
	return &centrifugoTarget{o: o, hc: publishClient(o), channel: "#" + o.CentrifugoUser}
}

func (t *centrifugoTarget) setup(ctx context.Context, progress io.Writer) error {
	t.token = hs256JWT(t.o.CentrifugoSecret, map[string]any{
		"sub": t.o.CentrifugoUser,
		"exp": time.Now().Add(t.o.Deadline + time.Hour).Unix(),
	})
	t.path = t.o.StreamPath
	if t.path == "" {
		connect, _ := json.Marshal(map[string]string{"token": t.token})
		t.path = "/connection/uni_sse?cf_connect=" + url.QueryEscape(string(connect))
	}
	fmt.Fprintf(progress, "setup: every client connects to /connection/uni_sse as user %s (personal channel %s)\n", t.o.CentrifugoUser, t.channel)
	return nil
}

func (t *centrifugoTarget) streamRequest(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.o.URL+t.path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	return req, nil
}

// connected: the connect reply, {"connect":{"client":…}}, is the first
// frame of a unidirectional connection.
func (t *centrifugoTarget) connected(ev *sseEvent) bool {
	return bytes.HasPrefix(bytes.TrimSpace(ev.Data), []byte(`{"connect":`))
}

type centrifugoPublish struct {
	Channel string         `json:"channel"`
	Data    map[string]any `json:"data"`
}

func (t *centrifugoTarget) publish(ctx context.Context, ids []string) error {
	cmds := make([]map[string]centrifugoPublish, len(ids))
	for i, id := range ids {
		cmds[i] = map[string]centrifugoPublish{"publish": {Channel: t.channel, Data: map[string]any{t.o.IDField: id, "type": "vip"}}}
	}
	path, body := "/api/publish", []byte(nil)
	var err error
	if len(ids) == 1 {
		body, err = json.Marshal(cmds[0]["publish"])
	} else {
		path = "/api/batch"
		body, err = json.Marshal(map[string]any{"commands": cmds})
	}
	if err != nil {
		return err
	}
	hdr := http.Header{"X-API-Key": {t.o.CentrifugoAPIKey}}
	status, answer, err := postJSON(ctx, t.hc, t.o.CentrifugoAPIURL+path, hdr, body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return &publishError{kind: fmt.Sprint(status), msg: fmt.Sprintf("POST %s: %d %s", path, status, trimAnswer(answer))}
	}
	if bytes.Contains(answer, []byte(`"error"`)) {
		return &publishError{kind: "api error", msg: fmt.Sprintf("POST %s: %s", path, trimAnswer(answer))}
	}
	return nil
}

func (t *centrifugoTarget) cleanup(context.Context) {}

func (t *centrifugoTarget) notes() []string {
	return []string{
		"centrifugo: every client is a unidirectional SSE connection (uni_sse) of user " + t.o.CentrifugoUser + ", subscribed server-side to its personal channel " + t.channel + "; each message is published with the server HTTP API, data {\"" + t.o.IDField + "\": id}.",
	}
}

// hs256JWT signs claims as a JWT with HMAC-SHA256.
func hs256JWT(secret string, claims map[string]any) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}

func trimAnswer(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}
