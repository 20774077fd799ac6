package onramp

import "time"

// Profile is what website visitors see of a rep (step 3).
type Profile struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Title     string `json:"title"`
	PhotoID   string `json:"photo_id"`
}

// MaxNameLen is the longest first name, last name, title or stream name,
// in characters.
const MaxNameLen = 80

func (*Profile) settings()     {}
func (*Profile) Step() StepKey { return StepProfile }

// PhotoRef is the profile's photo (PhotoHolder).
func (p *Profile) PhotoRef() string { return p.PhotoID }

// Validate trims and checks the profile. The photo is required: the guide's
// step is "Upload a profile photo (JPG or PNG)".
func (p *Profile) Validate() error {
	f := map[string]string{}
	var msg string
	if p.FirstName, msg = CleanText("First name", p.FirstName, MaxNameLen, true); msg != "" {
		f["first_name"] = msg
	}
	if p.LastName, msg = CleanText("Last name", p.LastName, MaxNameLen, true); msg != "" {
		f["last_name"] = msg
	}
	if p.Title, msg = CleanText("Title", p.Title, MaxNameLen, true); msg != "" {
		f["title"] = msg
	}
	if p.PhotoID == "" {
		f["photo"] = "Upload a profile photo (JPG or PNG)."
	} else if len(p.PhotoID) > 64 {
		f["photo"] = "Unknown photo."
	}
	return FieldErrors(f)
}

// Outcome: a saved profile is done.
func (*Profile) Outcome(StepFacts) Outcome { return Outcome{Status: StatusDone} }

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
