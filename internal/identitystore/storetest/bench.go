package storetest

import (
	"fmt"
	"testing"

	"github.com/rosterhq/roster/internal/identitystore"
)

// BenchmarkAddMembers measures adding n new members to a team in one
// AddMembers call; each iteration uses a new team, so every row is written.
func BenchmarkAddMembers(b *testing.B, s identitystore.Store, n int) {
	ids := userIDs("user", n)
	ctx := b.Context()
	i := 0
	for b.Loop() {
		if err := s.AddMembers(ctx, "bench", fmt.Sprintf("team-%d", i), ids); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "members/s")
}
