package photo

// SetSlotHook makes f be called with the number of photos holding a
// decode slot each time one is taken, until restore is called. Not for
// parallel tests.
func SetSlotHook(f func(inFlight int)) (restore func()) {
	old := testHookSlot
	testHookSlot = f
	return func() { testHookSlot = old }
}

// InFlight returns the number of photos holding a decode slot.
func InFlight() int { return int(inFlight.Load()) }

var (
	DecodeCost = decodeCost
	Scale      = scale
)
