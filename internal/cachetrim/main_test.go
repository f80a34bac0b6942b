package cachetrim_test

import (
	"os"
	"testing"

	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// env is a real kube-apiserver + etcd: the manager's cache, and objects as the apiserver
// sends them. The pure transform tests ignore it.
var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }
