package membership_test

import (
	"os"
	"testing"

	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// env is a real kube-apiserver + etcd for the tests about resourceVersions and conflicts; the
// package's pure tests (plan, group commit counts) use the fake client and ignore it.
var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }
