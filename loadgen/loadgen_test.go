package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"NoScenario", nil, "name a scenario"},
		{"UnknownScenario", []string{"bookings"}, "unknown scenario"},
		{"RemoteURL", []string{"onboarding", "-url", "http://example.com:8080"}, "-url must be a loopback address"},
		{"RemoteTemporal", []string{"onboarding", "-temporal", "10.0.0.1:7233"}, "-temporal must be a loopback address"},
		{"ZeroReps", []string{"onboarding", "-n", "0"}, "-n must be"},
		{"ZeroConcurrency", []string{"onboarding", "-c", "0"}, "-c must be"},
		{"ZeroRounds", []string{"onboarding", "-rounds", "0"}, "-rounds must be"},
		{"TooManyRounds", []string{"onboarding", "-rounds", "21"}, "-rounds must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Main(context.Background(), tc.args, func(string) string { return "" }, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestSummary: several rounds are judged by the median round, not the best
// or the mean.
func TestSummary(t *testing.T) {
	round := func(onramp, bare float64) *Report {
		r := &Report{TargetPercent: 80, Onramp: Phase{PerSecond: onramp}, Bare: Phase{PerSecond: bare}}
		r.finish()
		return r
	}
	for _, tc := range []struct {
		name             string
		rounds           []*Report
		median, min, max float64
		meets            bool
	}{
		{"OddBelow", []*Report{round(30, 40), round(50, 50), round(20, 40)}, 75, 50, 100, false},
		{"OddMeets", []*Report{round(32, 40), round(45, 50), round(20, 40)}, 80, 50, 90, true},
		{"Even", []*Report{round(30, 40), round(35, 50), round(36, 40), round(20, 40)}, 72.5, 50, 90, false},
		{"One", []*Report{round(40, 50)}, 80, 80, 80, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := summarize(tc.rounds)
			if s.MedianRatioPercent != tc.median || s.MinRatioPercent != tc.min || s.MaxRatioPercent != tc.max || s.MeetsTarget != tc.meets {
				t.Errorf("median %.2f min %.2f max %.2f meets %v, want %.2f %.2f %.2f %v",
					s.MedianRatioPercent, s.MinRatioPercent, s.MaxRatioPercent, s.MeetsTarget, tc.median, tc.min, tc.max, tc.meets)
			}
			var tbl strings.Builder
			s.WriteTable(&tbl)
			if want := fmt.Sprintf("Median Onramp / bare: %.1f%%", tc.median); !strings.Contains(tbl.String(), want) {
				t.Errorf("table lacks %q:\n%s", want, tbl.String())
			}
		})
	}
}
