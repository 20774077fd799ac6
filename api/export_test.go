package api

// SetIngestPerMinute sets the per-key limit of visitor-event requests for
// a test and returns the function that restores it.
func SetIngestPerMinute(n int) (restore func()) {
	old := ingestPerMinute
	ingestPerMinute = n
	return func() { ingestPerMinute = old }
}
