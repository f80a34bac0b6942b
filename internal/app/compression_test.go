package app_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }

// TestNoGzipFromTheAPIServer: Roster's clients (the manager's HTTP client, which its informers
// and clients share) do not ask the apiserver to gzip, unless --apiserver-compression says so.
// Asked through a watch-list request, which Kubernetes 1.37 compresses for the whole life of
// that watch (WatchListCompression): client-go's informers open their first watch that way
// (after a start or a relist, for 5 to 10 minutes), so every event in it was compressed by
// the apiserver and decompressed by Roster. The pinned apiserver is 1.37: an older one would
// not compress the watch either way, and the second case would fail.
func TestNoGzipFromTheAPIServer(t *testing.T) {
	for _, tc := range []struct {
		compression bool
		want        bool // the answer came gzipped (Go's transport unpacked it)
	}{{false, false}, {true, true}} {
		r, err := app.New(env.Config, app.Config{SCIMAddr: "127.0.0.1:0", MetricsAddr: "0", ProbeAddr: "0",
			Webhook: app.WebhookConfig{Disabled: true}, APIServerCompression: tc.compression})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Manager.GetConfig().DisableCompression; got == tc.compression {
			t.Errorf("--apiserver-compression=%t: the manager's rest config has DisableCompression %t", tc.compression, got)
		}
		ctx, cancel := context.WithCancel(context.Background())
		url := strings.TrimSuffix(r.Manager.GetConfig().Host, "/") + "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := r.Manager.GetHTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("watch-list %s: %s %s", url, resp.Status, b)
		}
		if resp.Uncompressed != tc.want {
			t.Errorf("--apiserver-compression=%t: the watch came gzipped: %t, want %t", tc.compression, resp.Uncompressed, tc.want)
		}
		cancel()
		_ = resp.Body.Close()
	}
}
