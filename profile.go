package onramp

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Profile is what website visitors see of a rep (step 3).
type Profile struct {
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	Title     string    `json:"title"`
	PhotoID   string    `json:"photo_id"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MaxNameLen is the longest first name, last name or title, in characters.
const MaxNameLen = 80

// Validate trims and checks the profile. The photo is required: the guide's
// step is "Upload a profile photo (JPG or PNG)".
func (p *Profile) Validate() error {
	f := map[string]string{}
	p.FirstName = strings.TrimSpace(p.FirstName)
	p.LastName = strings.TrimSpace(p.LastName)
	p.Title = strings.TrimSpace(p.Title)
	check := func(field, label, v string) {
		switch {
		case v == "":
			f[field] = label + " is required."
		case utf8.RuneCountInString(v) > MaxNameLen:
			f[field] = label + " must be at most 80 characters."
		case strings.ContainsAny(v, "\x00\r\n<>"):
			f[field] = label + " cannot contain line breaks or angle brackets."
		}
	}
	check("first_name", "First name", p.FirstName)
	check("last_name", "Last name", p.LastName)
	check("title", "Title", p.Title)
	if p.PhotoID == "" {
		f["photo"] = "Upload a profile photo (JPG or PNG)."
	}
	return FieldErrors(f)
}

// TitleSuggestions are the guide's friendly titles ("Make your title
// approachable!"), with the org's name filled in.
func TitleSuggestions(orgName string) []string {
	if orgName == "" {
		orgName = "Product"
	}
	return []string{
		"Here to help you find your perfect solution!",
		orgName + " Expert",
		"Your guide to " + orgName,
		"Happy to answer your questions",
	}
}

// Photo is a profile photo, already decoded, checked and re-encoded
// (metadata stripped) by the photo package.
type Photo struct {
	ID          string
	OrgID       string
	UserID      string
	ContentType string // image/jpeg or image/png
	Width       int
	Height      int
	Data        []byte
	CreatedAt   time.Time
}
