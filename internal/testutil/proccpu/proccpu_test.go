package proccpu

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// comm with spaces and a ')' of its own; utime 250 and stime 50 ticks.
	raw := []byte("4242 (kube api) (x)) S 77 4242 4242 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 12 0")
	comm, ppid, cpu, ok := parseStat(raw)
	if !ok || comm != "kube api) (x)" || ppid != 77 || cpu != 3*time.Second {
		t.Fatalf("parseStat: %q %d %v %v", comm, ppid, cpu, ok)
	}
	if _, _, _, ok := parseStat([]byte("4242 (short) S 1 2")); ok {
		t.Fatal("a line without the CPU fields parsed")
	}
}

func TestOfCountsThisProcess(t *testing.T) {
	before, err := Of(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := Self() + 100*time.Millisecond; Self() < end; { // burn CPU, not wall time
	}
	after, err := Of(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 50*time.Millisecond {
		t.Fatalf("Of grew by %v over 100 ms of CPU", after-before)
	}
	if _, err := Of(-1); err == nil {
		t.Fatal("Of(-1) gave no error")
	}
}
