package postgres_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/onramp/onramp"
)

// BenchmarkRecordStep records one transition with the settings it carries
// (an availability step, as the workflow's local activity does), from 20
// goroutines over 200 reps. Besides ns/op it reports pg-cpu-µs/op, the CPU
// the PostgreSQL server processes of this machine spent per record (when
// they can be read from /proc; 0 otherwise).
func BenchmarkRecordStep(b *testing.B) {
	f := MustFixture(b)
	ctx := context.Background()
	const reps = 200
	type rep struct {
		id  string
		seq atomic.Int64
	}
	rs := make([]*rep, reps)
	for i := range rs {
		u := MustCreateUser(b, f.users, onramp.NewUser{OrgID: f.org.ID, Email: fmt.Sprintf("bench%d@example.com", i), Name: "Bench", Role: onramp.RoleRep})
		rs[i] = &rep{id: u.ID}
	}
	av := onramp.DefaultAvailability("Europe/Paris")
	var next atomic.Int64
	b.SetParallelism(10) // 20 goroutines on 2 cores, as loadgen's -c 20
	cpu0 := postgresCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := rs[int(next.Add(1))%reps]
			seq := int(r.seq.Add(1))
			t := f.transition(seq, onramp.StepAvailability, onramp.StatusPending, onramp.StatusDone, onramp.StepNotifications)
			t.OrgID, t.RepID = f.org.ID, r.id
			err := f.store.RecordStep(ctx, onramp.StepRecord{OrgID: f.org.ID, RepID: r.id, WorkflowID: "bench", Settings: &av,
				Transitions: []onramp.StepTransition{t}})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if cpu1 := postgresCPU(); cpu0 > 0 && cpu1 > cpu0 {
		b.ReportMetric(float64(cpu1-cpu0)*1e6/100/float64(b.N), "pg-cpu-µs/op") // clock ticks are 1/100 s on Linux
	}
}

// postgresCPU is the user+system CPU, in clock ticks, of the processes named
// postgres on this machine (0 where /proc cannot tell).
func postgresCPU() int64 {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var sum int64
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != "postgres" {
			continue
		}
		f := strings.Fields(s[end+2:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		sum += u + k
	}
	return sum
}
