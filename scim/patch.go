package scim

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// PatchOpSchema is the schema of a PATCH request body.
const PatchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// PATCH limits.
const (
	MaxPatchOps     = 100
	MaxPatchPathLen = 500
)

// Op is one PATCH operation, normalised: the op in lower case; a path
// always (an operation without one is split into one per attribute of its
// value, as RFC 7644 3.5.2.1 and 3.5.2.3 say it means); the value as sent.
type Op struct {
	Op    string // add, replace, remove
	Path  Path
	Value json.RawMessage // nil for remove, unless it names what to remove
}

// Path is a PATCH path: attr[.sub], or attr[filter][.sub].
type Path struct {
	Attr   AttrPath
	Filter Filter // the value filter, or nil
	Sub    string // after attr[filter], the sub-attribute ("" if none)
}

func (p Path) String() string {
	s := p.Attr.String()
	if p.Filter != nil {
		s += "[…]"
	}
	if p.Sub != "" {
		s += "." + p.Sub
	}
	return s
}

type patchRequest struct {
	Schemas    []string          `json:"schemas"`
	Operations []json.RawMessage `json:"Operations"`
}

type rawOp struct {
	Op    string          `json:"op"`
	Path  *string         `json:"path"`
	Value json.RawMessage `json:"value"`
}

// ParsePatch parses a PATCH body (its size bounded by the caller). Ops are
// matched case-insensitively (Entra sends "Replace"). Returns an *Error:
// invalidSyntax for what is not a PatchOp, invalidPath for a bad path,
// noTarget for a remove without a path, invalidValue for a missing value.
func ParsePatch(body []byte) ([]Op, error) {
	var req patchRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return nil, errorf("invalidSyntax", "The body is not a SCIM PatchOp: %v.", err)
	}
	if dec.More() {
		return nil, errorf("invalidSyntax", "The body holds more than one JSON value.")
	}
	found := false
	for _, s := range req.Schemas {
		found = found || s == PatchOpSchema
	}
	if !found {
		return nil, errorf("invalidSyntax", "schemas must include %s.", PatchOpSchema)
	}
	if len(req.Operations) == 0 {
		return nil, errorf("invalidSyntax", "Operations is empty.")
	}
	if len(req.Operations) > MaxPatchOps {
		return nil, errorf("invalidSyntax", "At most %d operations.", MaxPatchOps)
	}
	var ops []Op
	for _, raw := range req.Operations {
		var r rawOp
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, errorf("invalidSyntax", "An operation is not an object with op, path and value.")
		}
		op := strings.ToLower(r.Op)
		if op != "add" && op != "replace" && op != "remove" {
			return nil, errorf("invalidSyntax", "Unknown op %q: add, replace or remove.", r.Op)
		}
		if r.Path == nil || strings.TrimSpace(*r.Path) == "" {
			if op == "remove" {
				return nil, errorf("noTarget", "remove needs a path.")
			}
			split, err := splitValue(op, r.Value, "")
			if err != nil {
				return nil, err
			}
			ops = append(ops, split...)
		} else {
			p, err := ParsePath(*r.Path)
			if err != nil {
				return nil, err
			}
			if op != "remove" && isAbsent(r.Value) {
				return nil, errorf("invalidValue", "%s of %s needs a value.", op, *r.Path)
			}
			ops = append(ops, Op{Op: op, Path: p, Value: nilIfAbsent(r.Value)})
		}
		if len(ops) > MaxPatchOps {
			return nil, errorf("invalidSyntax", "At most %d operations.", MaxPatchOps)
		}
	}
	return ops, nil
}

func isAbsent(v json.RawMessage) bool {
	t := bytes.TrimSpace(v)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func nilIfAbsent(v json.RawMessage) json.RawMessage {
	if isAbsent(v) {
		return nil
	}
	return v
}

// splitValue turns an add or replace without a path into one operation
// per attribute of its value: {"active":false} (Okta), {"name.givenName":
// "Ann","active":"False"} (Entra's dotted keys), and extension objects
// keyed by their schema URN. Keys are taken in sorted order, so the result
// does not depend on the sender's.
func splitValue(op string, value json.RawMessage, uri string) ([]Op, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(value, &obj); err != nil || len(obj) == 0 {
		return nil, errorf("invalidValue", "%s without a path needs an object value naming the attributes.", op)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Op
	for _, k := range keys {
		v := obj[k]
		if uri == "" && isObject(v) && knownSchemas[strings.ToLower(k)] {
			// An extension's attributes, under its schema.
			sub, err := splitValue(op, v, k)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			continue
		}
		path := k
		if uri != "" {
			path = uri + ":" + k
		}
		p, err := ParsePath(path)
		if err != nil {
			return nil, err
		}
		out = append(out, Op{Op: op, Path: p, Value: v})
		if len(out) > MaxPatchOps {
			return nil, errorf("invalidSyntax", "At most %d operations.", MaxPatchOps)
		}
	}
	return out, nil
}

// knownSchemas are the resource schemas whose attributes may come as an
// object keyed by the schema's URN.
var knownSchemas = map[string]bool{
	"urn:ietf:params:scim:schemas:core:2.0:user":                 true,
	"urn:ietf:params:scim:schemas:core:2.0:group":                true,
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": true,
}

func isObject(v json.RawMessage) bool {
	t := bytes.TrimSpace(v)
	return len(t) > 0 && t[0] == '{'
}

// ParsePath parses a PATCH path: attr, attr.sub, urn:…:attr, attr[filter]
// or attr[filter].sub. Returns an *Error (invalidPath).
func ParsePath(s string) (Path, error) {
	if len(s) > MaxPatchPathLen {
		return Path{}, errorf("invalidPath", "The path is longer than %d characters.", MaxPatchPathLen)
	}
	s = strings.TrimSpace(s)
	var p Path
	head, rest, hasFilter := strings.Cut(s, "[")
	attr, err := ParseAttrPath(head)
	if err != nil {
		return p, errorf("invalidPath", "Invalid path %q.", s)
	}
	p.Attr = attr
	if !hasFilter {
		return p, nil
	}
	if attr.Sub != "" {
		return p, errorf("invalidPath", "Invalid path %q: a filter goes on an attribute.", s)
	}
	end := strings.LastIndex(rest, "]")
	if end < 0 {
		return p, errorf("invalidPath", "Invalid path %q: [ is not closed.", s)
	}
	f, err := ParseFilter(rest[:end])
	if err != nil {
		return p, errorf("invalidPath", "Invalid filter in path %q: %s", s, err.(*Error).Detail)
	}
	p.Filter = f
	switch after := rest[end+1:]; {
	case after == "":
	case strings.HasPrefix(after, ".") && validAttrName(after[1:]):
		p.Sub = strings.ToLower(after[1:])
	default:
		return p, errorf("invalidPath", "Invalid path %q.", s)
	}
	return p, nil
}

// Bool reads a boolean value as SCIM clients send it: true/false, or, as
// Entra ID does, the strings "True"/"False" (any case).
func Bool(v json.RawMessage) (bool, error) {
	var b bool
	if isAbsent(v) {
		return false, errorf("invalidValue", "Expected true or false, got nothing.")
	}
	if err := json.Unmarshal(v, &b); err == nil {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, errorf("invalidValue", "Expected true or false, got %s.", truncate(string(v), 40))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
