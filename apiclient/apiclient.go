// Package apiclient is a small Go client of Onramp's HTTP API as a browser
// uses it: a cookie jar holds the session, and the CSRF token handed out at
// sign-in goes with every request. The load generator and the end-to-end
// tests share it.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strings"

	"github.com/onramp/onramp"
)

// Client is one browser: its cookies, its CSRF token and who is signed in.
// A copy of a Client shares the cookies (HTTP) but not Base, CSRF or User.
type Client struct {
	Base string       // where the API is, e.g. http://127.0.0.1:8080 (no trailing slash)
	HTTP *http.Client // with a cookie jar, which holds the session cookie
	CSRF string       // sent as X-CSRF-Token when not empty; set by SignIn
	User onramp.User  // the signed-in user; set by SignIn
}

// New returns a Client of the API at base with a fresh cookie jar. Its
// requests go through rt (nil: http.DefaultTransport); they have no
// timeout other than their context's.
func New(base string, rt http.RoundTripper) *Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		panic(err) // cookiejar.New fails only on a bad PublicSuffixList, and there is none
	}
	return &Client{Base: strings.TrimRight(base, "/"), HTTP: &http.Client{Jar: jar, Transport: rt}}
}

// sessionPath is where a browser signs in.
const sessionPath = "/api/v1/session"

// SignIn signs in with email and password (POST /api/v1/session) and keeps
// the session cookie, the CSRF token and the user. A non-2xx answer (a
// wrong password, a rate limit) is an *Error.
func (c *Client) SignIn(ctx context.Context, email, password string) error {
	var out struct {
		User      onramp.User `json:"user"`
		CSRFToken string      `json:"csrf_token"`
	}
	in := map[string]string{"email": email, "password": password}
	if _, err := c.JSON(ctx, http.MethodPost, sessionPath, in, &out); err != nil {
		return err
	}
	c.CSRF, c.User = out.CSRFToken, out.User
	return nil
}

// Response is an HTTP answer read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte

	method, path string // of the request, for Err
}

// Err is nil for a 2xx answer and otherwise an *Error decoded from the body.
func (r *Response) Err() error {
	if r.Status >= 200 && r.Status < 300 {
		return nil
	}
	return decodeError(r.method, r.path, r.Status, r.Body)
}

// Do sends one request to c.Base+path and reads the whole answer. body nil
// sends none; contentType, when not empty, is its Content-Type. The CSRF
// token goes as X-CSRF-Token when c has one. The headers in hdr are set
// last and win; a header given with only an empty value is deleted (to
// send a request without the CSRF token, say). A transport error (no
// answer) is the error; any HTTP status is a Response.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, contentType string, hdr http.Header) (*Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.CSRF != "" {
		req.Header.Set("X-CSRF-Token", c.CSRF)
	}
	for k, vs := range hdr {
		if len(vs) == 0 || (len(vs) == 1 && vs[0] == "") {
			req.Header.Del(k)
		} else {
			req.Header[http.CanonicalHeaderKey(k)] = slices.Clone(vs)
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b, method: method, path: path}, nil
}

// JSON sends in as JSON (nil: no body) and decodes a 2xx answer into out
// (nil: not decoded). A non-2xx answer comes back with an *Error.
func (c *Client) JSON(ctx context.Context, method, path string, in, out any) (*Response, error) {
	var body []byte
	var ct string
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		ct = "application/json"
	}
	r, err := c.Do(ctx, method, path, body, ct, nil)
	if err != nil {
		return nil, err
	}
	if err := r.Err(); err != nil {
		return r, err
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			return r, fmt.Errorf("%s %s: decode %d answer: %w", method, path, r.Status, err)
		}
	}
	return r, nil
}

// Error is a non-2xx answer. Code, Message and Fields come from Onramp's
// error body {"code", "message", "fields"}; when the body is not one (a
// proxy's page, say), Message holds the start of it.
type Error struct {
	Method, Path string
	Status       int
	Code         string            // one of onramp's E* codes, or ""
	Message      string            // safe to show to the user
	Fields       map[string]string // per-field messages of a form
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", e.Method, e.Path, e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		fmt.Fprintf(&b, " [%s: %s]", k, e.Fields[k])
	}
	return b.String()
}

// maxErrorText is how much of a body that is not an error object an Error
// keeps.
const maxErrorText = 300

func decodeError(method, path string, status int, body []byte) *Error {
	e := &Error{Method: method, Path: path, Status: status}
	var eb struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	}
	if json.Unmarshal(body, &eb) == nil && (eb.Code != "" || eb.Message != "") {
		e.Code, e.Message, e.Fields = eb.Code, eb.Message, eb.Fields
		return e
	}
	text := strings.TrimSpace(string(body))
	if len(text) > maxErrorText {
		text = strings.ToValidUTF8(text[:maxErrorText], "") + "…"
	}
	e.Message = text
	return e
}
