package kubectlroster_test

import (
	"context"
	"io"
	"testing"

	"github.com/rosterhq/roster/internal/kubectlroster"
)

// BenchmarkMembers20000 prints the 20,000 members of team Eng as a table (the user sees the
// first lines after the first page of slices; this is the time to the last).
func BenchmarkMembers20000(b *testing.B) {
	w := seed(b)
	benchRun(b, "members", "Eng", "--kubeconfig", w.kubeconfig)
}

// BenchmarkMembers20000JSON is BenchmarkMembers20000 with -o json.
func BenchmarkMembers20000JSON(b *testing.B) {
	w := seed(b)
	benchRun(b, "members", "Eng", "--kubeconfig", w.kubeconfig, "-o", "json")
}

// BenchmarkTeams20000 finds the teams of one user among the slices of a 20,000-member team.
func BenchmarkTeams20000(b *testing.B) {
	w := seed(b)
	benchRun(b, "teams", userName(12345), "--kubeconfig", w.kubeconfig)
}

// BenchmarkAccess20000 is `access` for a user of the 20,000-member team.
func BenchmarkAccess20000(b *testing.B) {
	w := seed(b)
	benchRun(b, "access", userName(1), "--kubeconfig", w.kubeconfig)
}

func benchRun(b *testing.B, args ...string) {
	b.ReportAllocs()
	for b.Loop() {
		if code := kubectlroster.Run(context.Background(), args, io.Discard, io.Discard); code != 0 {
			b.Fatalf("kubectl roster %v: exit %d", args, code)
		}
	}
}
