package scim

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// user is a Resource for tests: flat attributes and emails.
type user struct {
	attrs  map[string]any
	emails []user
}

func (u user) Values(p AttrPath) []any {
	if v, ok := u.attrs[p.String()]; ok {
		return []any{v}
	}
	if p.Attr == "emails" && p.Sub == "value" {
		var out []any
		for _, e := range u.emails {
			out = append(out, e.attrs["value"])
		}
		return out
	}
	return nil
}

func (u user) Multi(attr string) []Resource {
	if attr != "emails" {
		return nil
	}
	var out []Resource
	for _, e := range u.emails {
		out = append(out, e)
	}
	return out
}

func TestFilter(t *testing.T) {
	ann := user{attrs: map[string]any{"username": "Ann@Example.com", "active": true, "name.givenname": "Ann", "externalid": "00u1"},
		emails: []user{{attrs: map[string]any{"value": "ann@example.com", "type": "work"}}, {attrs: map[string]any{"value": "ann@home.test", "type": "home"}}}}
	for _, tc := range []struct {
		filter string
		match  bool
	}{
		{`userName eq "ann@example.com"`, true}, // Okta's lookup; case-insensitive
		{`userName eq "bob@example.com"`, false},
		{`USERNAME Eq "ANN@EXAMPLE.COM"`, true},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ann@example.com"`, true},
		{`externalId eq "00u1"`, true}, // Entra's lookup
		{`name.givenName sw "An"`, true},
		{`userName co "example"`, true},
		{`userName ew ".com"`, true},
		{`active eq true`, true},
		{`active eq false`, false},
		{`title pr`, false},
		{`userName pr`, true},
		{`userName ne "x"`, true},
		{`not (userName eq "ann@example.com")`, false},
		{`emails[type eq "work" and value co "example"]`, true},
		{`emails[type eq "work" and value co "home"]`, false},
		{`emails.value eq "ann@home.test"`, true},
		{`userName eq "x" or (active eq true and name.givenName eq "ann")`, true},
		{`userName eq "x" or active eq true and name.givenName eq "bob"`, false}, // and binds tighter
		{`userName eq "a\"b"`, false},
	} {
		f, err := ParseFilter(tc.filter)
		if err != nil {
			t.Errorf("%s: %v", tc.filter, err)
			continue
		}
		if got := Match(f, ann); got != tc.match {
			t.Errorf("%s: match %v, want %v", tc.filter, got, tc.match)
		}
	}
}

func TestFilterErrors(t *testing.T) {
	for _, bad := range []string{
		``, `userName`, `userName eq`, `userName eq bob`, `userName foo "x"`, `(userName eq "x"`,
		`userName eq "x")`, `userName eq "x`, `emails[type eq "work"`, `not userName eq "x"`,
		`1abc eq "x"`, `userName eq "x" and`, `name.givenName.x eq "y"`, `emails.value[type eq "x"]`,
		strings.Repeat("(", 20) + `a eq "b"` + strings.Repeat(")", 20),
		strings.Repeat(`a eq "b" or `, 60) + `a eq "b"`,
		`a eq "` + strings.Repeat("x", MaxFilterLen) + `"`,
	} {
		_, err := ParseFilter(bad)
		e, ok := err.(*Error)
		if !ok || e.Type != "invalidFilter" || e.Status != 400 || e.Detail == "" {
			t.Errorf("%.60q: %v, want invalidFilter", bad, err)
		}
	}
}

func ops(t *testing.T, body string) string {
	t.Helper()
	list, err := ParsePatch([]byte(body))
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	var parts []string
	for _, o := range list {
		parts = append(parts, fmt.Sprintf("%s %s=%s", o.Op, o.Path, o.Value))
	}
	return strings.Join(parts, "; ")
}

const schema = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

// What Okta and Entra ID really send (their provisioning docs).
func TestPatchAsSent(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"okta deactivate: no path", `{` + schema + `,"Operations":[{"op":"replace","value":{"active":false}}]}`,
			`replace active=false`},
		{"okta replace with path", `{` + schema + `,"Operations":[{"op":"replace","path":"active","value":true}]}`,
			`replace active=true`},
		{"entra: Replace, dotted keys, string boolean", `{` + schema + `,"Operations":[{"op":"Replace","value":{"name.givenName":"Ann","active":"False","displayName":"Ann L"}}]}`,
			`replace active="False"; replace displayname="Ann L"; replace name.givenname="Ann"`},
		{"entra add with filter path", `{` + schema + `,"Operations":[{"op":"Add","path":"emails[type eq \"work\"].value","value":"ann@example.com"}]}`,
			`add emails[…].value="ann@example.com"`},
		{"entra remove member", `{` + schema + `,"Operations":[{"op":"Remove","path":"members[value eq \"2819c223\"]"}]}`,
			`remove members[…]=`},
		{"group add members", `{` + schema + `,"Operations":[{"op":"add","path":"members","value":[{"value":"u1"},{"value":"u2"}]}]}`,
			`add members=[{"value":"u1"},{"value":"u2"}]`},
		{"enterprise extension object", `{` + schema + `,"Operations":[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}}]}`,
			`replace department="Sales"`},
		{"extension attribute path", `{` + schema + `,"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}]}`,
			`replace department="Sales"`},
	} {
		if got := ops(t, tc.body); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	// The URI is kept on the path.
	list, _ := ParsePatch([]byte(`{` + schema + `,"Operations":[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}}]}`))
	if list[0].Path.Attr.URI != "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user" {
		t.Errorf("URI %q", list[0].Path.Attr.URI)
	}
}

func TestPatchErrors(t *testing.T) {
	many := make([]string, MaxPatchOps+1)
	for i := range many {
		many[i] = `{"op":"add","path":"title","value":"x"}`
	}
	for _, tc := range []struct{ name, body, typ string }{
		{"not JSON", `{`, "invalidSyntax"},
		{"two values", `{` + schema + `,"Operations":[{"op":"add","path":"a","value":1}]} {}`, "invalidSyntax"},
		{"no schema", `{"Operations":[{"op":"add","path":"title","value":"x"}]}`, "invalidSyntax"},
		{"no operations", `{` + schema + `,"Operations":[]}`, "invalidSyntax"},
		{"unknown op", `{` + schema + `,"Operations":[{"op":"move","path":"title","value":"x"}]}`, "invalidSyntax"},
		{"operation not an object", `{` + schema + `,"Operations":["add"]}`, "invalidSyntax"},
		{"remove without path", `{` + schema + `,"Operations":[{"op":"remove"}]}`, "noTarget"},
		{"add without value", `{` + schema + `,"Operations":[{"op":"add","path":"title"}]}`, "invalidValue"},
		{"no path, value not an object", `{` + schema + `,"Operations":[{"op":"replace","value":false}]}`, "invalidValue"},
		{"bad path", `{` + schema + `,"Operations":[{"op":"replace","path":"a b","value":1}]}`, "invalidPath"},
		{"bad filter in path", `{` + schema + `,"Operations":[{"op":"remove","path":"members[value eq]"}]}`, "invalidPath"},
		{"bad key in value", `{` + schema + `,"Operations":[{"op":"replace","value":{"a..b":1}}]}`, "invalidPath"},
		{"too many", `{` + schema + `,"Operations":[` + strings.Join(many, ",") + `]}`, "invalidSyntax"},
	} {
		_, err := ParsePatch([]byte(tc.body))
		if e, ok := err.(*Error); !ok || e.Type != tc.typ || e.Status != 400 {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.typ)
		}
	}
}

func TestBool(t *testing.T) {
	for in, want := range map[string]bool{`true`: true, `false`: false, `"False"`: false, `"TRUE"`: true, `" true "`: true} {
		if got, err := Bool(json.RawMessage(in)); err != nil || got != want {
			t.Errorf("Bool(%s) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{`"yes"`, `1`, `null`, `{}`} {
		if _, err := Bool(json.RawMessage(bad)); err == nil {
			t.Errorf("Bool(%s) accepted", bad)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`userName eq "a"`, `emails[type eq "work" and value co "@"]`, `not (a pr) or b gt 3`, `a eq "\u00e9\/"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Type != "invalidFilter" {
				t.Fatalf("error %v", err)
			}
			return
		}
		Match(flt, user{attrs: map[string]any{"a": "x"}}) // never panics
	})
}

func FuzzParsePatch(f *testing.F) {
	f.Add([]byte(`{` + schema + `,"Operations":[{"op":"Replace","value":{"name.givenName":"A","active":"False"}}]}`))
	f.Add([]byte(`{` + schema + `,"Operations":[{"op":"remove","path":"members[value eq \"x\"]"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		list, err := ParsePatch(body)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v", err)
			}
			return
		}
		if len(list) == 0 || len(list) > MaxPatchOps {
			t.Fatalf("%d ops", len(list))
		}
		for _, o := range list {
			if o.Op != "add" && o.Op != "replace" && o.Op != "remove" {
				t.Fatalf("op %q", o.Op)
			}
		}
	})
}
