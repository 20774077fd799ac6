// Package scim parses what SCIM 2.0 clients send (RFC 7644): filters
// (section 3.4.2.2) and PATCH operations (section 3.5.2), as Okta and
// Microsoft Entra ID really send them. It does no I/O; the HTTP handlers
// (issue 7) use it. Every input is bounded before it is parsed, and both
// parsers are fuzzed.
package scim

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Error is a SCIM error: Status is the HTTP status, Type the scimType
// (invalidFilter, invalidSyntax, invalidValue, invalidPath, noTarget,
// mutability, uniqueness, tooMany).
type Error struct {
	Status int
	Type   string
	Detail string
}

func (e *Error) Error() string { return e.Type + ": " + e.Detail }

func errorf(typ, format string, args ...any) *Error {
	return &Error{Status: 400, Type: typ, Detail: fmt.Sprintf(format, args...)}
}

// Filter limits.
const (
	MaxFilterLen   = 1000 // bytes
	MaxFilterDepth = 10   // nested parentheses, not, and valuePath brackets
	MaxFilterTerms = 50   // comparisons
)

// Filter is a parsed filter: an expression tree.
type Filter interface{ filter() }

// Compare is attrPath op value, or attrPath pr (Value nil).
type Compare struct {
	Path  AttrPath
	Op    string // eq ne co sw ew gt lt ge le pr
	Value any    // string, float64, bool or nil (null); unused for pr
}

// Logical is Left and/or Right.
type Logical struct {
	Op          string // and, or
	Left, Right Filter
}

// Not negates Inner.
type Not struct{ Inner Filter }

// ValuePath is attr[filter]: some value of the multi-valued attribute
// matches Inner (whose paths are relative to it).
type ValuePath struct {
	Attr  AttrPath
	Inner Filter
}

func (Compare) filter()   {}
func (Logical) filter()   {}
func (Not) filter()       {}
func (ValuePath) filter() {}

// AttrPath is [schema URI:]attr[.sub], lowercased (attribute names are
// case-insensitive).
type AttrPath struct {
	URI  string
	Attr string
	Sub  string
}

// String is the path as written, without its URI.
func (p AttrPath) String() string {
	if p.Sub != "" {
		return p.Attr + "." + p.Sub
	}
	return p.Attr
}

var compareOps = map[string]bool{"eq": true, "ne": true, "co": true, "sw": true, "ew": true, "gt": true, "lt": true, "ge": true, "le": true}

// ParseFilter parses a filter. Returns an *Error (invalidFilter) for
// anything malformed or over the limits.
func ParseFilter(s string) (Filter, error) {
	if len(s) > MaxFilterLen {
		return nil, errorf("invalidFilter", "The filter is longer than %d characters.", MaxFilterLen)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	f, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, errorf("invalidFilter", "Unexpected %q.", p.toks[p.pos].text)
	}
	return f, nil
}

type tokKind int

const (
	tWord tokKind = iota // attribute paths, operators, true/false/null, numbers
	tString
	tLParen
	tRParen
	tLBracket
	tRBracket
)

type token struct {
	kind tokKind
	text string // a string's decoded value
}

// lex splits a filter into tokens.
func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(':
			toks, i = append(toks, token{kind: tLParen, text: "("}), i+1
		case c == ')':
			toks, i = append(toks, token{kind: tRParen, text: ")"}), i+1
		case c == '[':
			toks, i = append(toks, token{kind: tLBracket, text: "["}), i+1
		case c == ']':
			toks, i = append(toks, token{kind: tRBracket, text: "]"}), i+1
		case c == '"':
			// A JSON string (RFC 7644: compValue is JSON).
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, errorf("invalidFilter", "A string is not closed.")
			}
			v, err := strconv.Unquote(jsonToGoQuote(s[i : j+1]))
			if err != nil {
				return nil, errorf("invalidFilter", "Invalid string %s.", s[i:j+1])
			}
			toks, i = append(toks, token{kind: tString, text: v}), j+1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t()[]\"", rune(s[j])) {
				j++
			}
			toks, i = append(toks, token{kind: tWord, text: s[i:j]}), j
		}
		if len(toks) > 4*MaxFilterTerms {
			return nil, errorf("invalidFilter", "The filter has too many terms.")
		}
	}
	return toks, nil
}

// jsonToGoQuote turns a JSON string literal into one strconv.Unquote
// reads the same: JSON's \/ is not a Go escape.
func jsonToGoQuote(q string) string { return strings.ReplaceAll(q, `\/`, `/`) }

type parser struct {
	toks  []token
	pos   int
	terms int
}

func (p *parser) peek() *token {
	if p.pos < len(p.toks) {
		return &p.toks[p.pos]
	}
	return nil
}

func (p *parser) word(w string) bool {
	t := p.peek()
	return t != nil && t.kind == tWord && strings.EqualFold(t.text, w)
}

// or: and ("or" and)*
func (p *parser) or(depth int) (Filter, error) { return p.chain(depth, "or", p.and) }

// and: term ("and" term)*
func (p *parser) and(depth int) (Filter, error) { return p.chain(depth, "and", p.term) }

// chain parses operand (op operand)*, left-associative.
func (p *parser) chain(depth int, op string, operand func(int) (Filter, error)) (Filter, error) {
	left, err := operand(depth)
	if err != nil {
		return nil, err
	}
	for p.word(op) {
		p.pos++
		right, err := operand(depth)
		if err != nil {
			return nil, err
		}
		left = Logical{Op: op, Left: left, Right: right}
	}
	return left, nil
}

// term: "not" "(" filter ")" | "(" filter ")" | attrPath "[" filter "]" | attrExp
func (p *parser) term(depth int) (Filter, error) {
	if depth > MaxFilterDepth {
		return nil, errorf("invalidFilter", "The filter is nested more than %d deep.", MaxFilterDepth)
	}
	t := p.peek()
	if t == nil {
		return nil, errorf("invalidFilter", "The filter ends too early.")
	}
	switch {
	case t.kind == tLParen:
		p.pos++
		f, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
		return f, nil
	case t.kind == tWord && strings.EqualFold(t.text, "not"):
		p.pos++
		if err := p.expect(tLParen, "( after not"); err != nil {
			return nil, err
		}
		f, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
		return Not{Inner: f}, nil
	case t.kind != tWord:
		return nil, errorf("invalidFilter", "Expected an attribute, got %q.", t.text)
	}
	path, err := ParseAttrPath(t.text)
	if err != nil {
		return nil, err
	}
	p.pos++
	if n := p.peek(); n != nil && n.kind == tLBracket {
		if path.Sub != "" {
			return nil, errorf("invalidFilter", "A value filter goes on an attribute, not a sub-attribute.")
		}
		p.pos++
		inner, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.expect(tRBracket, "]"); err != nil {
			return nil, err
		}
		return ValuePath{Attr: path, Inner: inner}, nil
	}
	op := p.peek()
	if op == nil || op.kind != tWord {
		return nil, errorf("invalidFilter", "Expected an operator after %s.", path)
	}
	o := strings.ToLower(op.text)
	p.pos++
	if p.terms++; p.terms > MaxFilterTerms {
		return nil, errorf("invalidFilter", "The filter has more than %d comparisons.", MaxFilterTerms)
	}
	if o == "pr" {
		return Compare{Path: path, Op: o}, nil
	}
	if !compareOps[o] {
		return nil, errorf("invalidFilter", "Unknown operator %q.", op.text)
	}
	v := p.peek()
	if v == nil {
		return nil, errorf("invalidFilter", "Expected a value after %s %s.", path, o)
	}
	p.pos++
	var val any
	switch {
	case v.kind == tString:
		val = v.text
	case v.kind == tWord && v.text == "true":
		val = true
	case v.kind == tWord && v.text == "false":
		val = false
	case v.kind == tWord && v.text == "null":
		val = nil
	case v.kind == tWord:
		n, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			return nil, errorf("invalidFilter", "Invalid value %q: strings are quoted.", v.text)
		}
		val = n
	default:
		return nil, errorf("invalidFilter", "Expected a value, got %q.", v.text)
	}
	return Compare{Path: path, Op: o, Value: val}, nil
}

func (p *parser) expect(k tokKind, what string) error {
	t := p.peek()
	if t == nil || t.kind != k {
		return errorf("invalidFilter", "Expected %s.", what)
	}
	p.pos++
	return nil
}

// ParseAttrPath parses [URI:]attr[.sub]. The URI is a schema URN
// (urn:ietf:params:scim:schemas:…); attribute names start with a letter
// and hold letters, digits, _ and -.
func ParseAttrPath(s string) (AttrPath, error) {
	var p AttrPath
	if strings.HasPrefix(strings.ToLower(s), "urn:") {
		i := strings.LastIndex(s, ":")
		p.URI, s = strings.ToLower(s[:i]), s[i+1:]
	}
	attr, sub, _ := strings.Cut(s, ".")
	if !validAttrName(attr) || (sub != "" && !validAttrName(sub)) || strings.Count(s, ".") > 1 {
		return p, errorf("invalidFilter", "Invalid attribute %q.", s)
	}
	p.Attr, p.Sub = strings.ToLower(attr), strings.ToLower(sub)
	return p, nil
}

func validAttrName(s string) bool {
	if s == "" || len(s) > 64 || !unicode.IsLetter(rune(s[0])) {
		return false
	}
	for _, r := range s {
		if !(r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '$')) {
			return false
		}
	}
	return true
}

// Resource is what a filter is evaluated against: the values of an
// attribute path (none when absent), and the sub-resources of a
// multi-valued complex attribute (emails, members).
type Resource interface {
	Values(p AttrPath) []any
	Multi(attr string) []Resource
}

// Match evaluates f on r. Strings compare case-insensitively (userName's
// caseExact is false, as for most attributes).
func Match(f Filter, r Resource) bool {
	switch f := f.(type) {
	case Logical:
		if f.Op == "and" {
			return Match(f.Left, r) && Match(f.Right, r)
		}
		return Match(f.Left, r) || Match(f.Right, r)
	case Not:
		return !Match(f.Inner, r)
	case ValuePath:
		for _, sub := range r.Multi(f.Attr.Attr) {
			if Match(f.Inner, sub) {
				return true
			}
		}
		return false
	case Compare:
		vals := r.Values(f.Path)
		if f.Op == "pr" {
			for _, v := range vals {
				if v != nil && v != "" {
					return true
				}
			}
			return false
		}
		if f.Op == "ne" {
			for _, v := range vals {
				if compare(v, "eq", f.Value) {
					return false
				}
			}
			return true
		}
		for _, v := range vals {
			if compare(v, f.Op, f.Value) {
				return true
			}
		}
	}
	return false
}

func compare(have any, op string, want any) bool {
	switch h := have.(type) {
	case string:
		w, ok := want.(string)
		if !ok {
			return false
		}
		h, w = strings.ToLower(h), strings.ToLower(w)
		switch op {
		case "eq":
			return h == w
		case "co":
			return strings.Contains(h, w)
		case "sw":
			return strings.HasPrefix(h, w)
		case "ew":
			return strings.HasSuffix(h, w)
		case "gt":
			return h > w
		case "lt":
			return h < w
		case "ge":
			return h >= w
		case "le":
			return h <= w
		}
	case bool:
		w, ok := want.(bool)
		return ok && op == "eq" && h == w
	case float64:
		w, ok := want.(float64)
		if !ok {
			return false
		}
		switch op {
		case "eq":
			return h == w
		case "gt":
			return h > w
		case "lt":
			return h < w
		case "ge":
			return h >= w
		case "le":
			return h <= w
		}
	case nil:
		return op == "eq" && want == nil
	}
	return false
}
