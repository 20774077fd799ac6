// Package onramp holds Onramp's domain: orgs and users, the ten onboarding
// steps of the Chat User Setup Guide and their settings, the onboarding
// projection and events, error codes, and the service interfaces that the
// adapters (postgres, redisbus, …) implement. It does no I/O.
//
// Files by concern: user.go (orgs, users, sessions), steps.go (the steps,
// their states and the progress of one rep), settings.go (the settings a
// step carries, one type per step, and their registry), profile.go,
// availability.go, notifications.go, browser.go (the settings types),
// streams.go (visitor streams), text.go (rules for free text),
// onboarding.go (what the projection stores and reads), events.go (the
// event bus), errors.go.
package onramp
