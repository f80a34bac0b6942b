package main

import (
	"archive/tar"
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// What the test's build links into the binary, as the Makefile would.
const (
	testVersion = "v0.0.0-imagetest"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
	testDate    = "2024-05-06T07:08:09Z"
	testTag     = "registry.example.com/team/roster:" + testVersion
)

// TestImage builds roster the way `make image` does, builds the image from it twice, and
// checks what a cluster would run: the config, every file of every layer, the binary's own
// `roster version`, the SBOM, and that the second build has the same digest.
func TestImage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image's binary is built for the host's architecture and run: Linux only")
	}
	if _, err := os.Stat(defaultCACerts); err != nil {
		t.Skipf("no CA bundle at %s (apt-get install ca-certificates)", defaultCACerts)
	}
	tmp := t.TempDir()
	bin := buildRoster(t, filepath.Join(tmp, "roster"))

	// A CA file without certificates is refused before anything is written.
	noPEM := filepath.Join(tmp, "no-pem")
	if err := os.WriteFile(noPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wrongCommit := stamped(bin, filepath.Join(tmp, "refused"), defaultCACerts)
	wrongCommit.Commit = strings.Repeat("f", 40)
	wrongDate := stamped(bin, filepath.Join(tmp, "refused"), defaultCACerts)
	wrongDate.Date = "2024-05-06"
	for _, tt := range []struct {
		o    options
		want string
	}{
		{stamped(bin, filepath.Join(tmp, "refused"), noPEM), "holds no PEM certificate"},
		{wrongCommit, "was not linked with --commit=ffff"},
		{wrongDate, "want RFC 3339"},
	} {
		if _, err := build(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("build(%+v) = %v, want a refusal containing %q", tt.o, err, tt.want)
		}
		if _, err := os.Stat(filepath.Join(tmp, "refused")); !errors.Is(err, os.ErrNotExist) {
			t.Error("a refused build wrote its output directory")
		}
	}

	res, err := build(stamped(bin, filepath.Join(tmp, "one"), defaultCACerts))
	if err != nil {
		t.Fatal(err)
	}

	// The layout holds exactly the image, under its tag (crane push and skopeo need that).
	idx, err := layout.ImageIndexFromPath(res.Layout)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != res.Digest {
		t.Fatalf("layout index = %+v, want the one image %s", im.Manifests, res.Digest)
	}
	if got := im.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; got != testVersion {
		t.Errorf("layout ref.name = %q, want %q", got, testVersion)
	}
	if at := im.Manifests[0].ArtifactType; at != "" {
		t.Errorf("layout entry has artifactType %q: an image has none", at)
	}
	if p := im.Manifests[0].Platform; p == nil || p.OS != "linux" || p.Architecture != runtime.GOARCH {
		t.Errorf("layout platform = %+v, want linux/%s", p, runtime.GOARCH)
	}
	img, err := idx.Image(res.Digest)
	if err != nil {
		t.Fatal(err)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("User = %q, want the non-root 65532:65532", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/roster"}) || !slices.Equal(c.Cmd, []string{"manager"}) {
		t.Errorf("Entrypoint %q Cmd %q, want [/roster] [manager]", c.Entrypoint, c.Cmd)
	}
	if cf.RootFS.Type != "layers" || len(cf.RootFS.DiffIDs) != 2 {
		t.Errorf("rootfs %+v, want type layers with the two layers' diff ids (runtimes refuse anything else)", cf.RootFS)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s, want linux/%s", cf.OS, cf.Architecture, runtime.GOARCH)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.version":  testVersion,
		"org.opencontainers.image.revision": testCommit,
		"org.opencontainers.image.created":  testDate,
		"org.opencontainers.image.source":   "https://github.com/rosterhq/roster",
		"org.opencontainers.image.title":    "roster",
		"org.opencontainers.image.licenses": "NOASSERTION",
	}
	for k, want := range wantLabels {
		if got := c.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	if got := cf.Created.UTC().Format("2006-01-02T15:04:05Z"); got != testDate {
		t.Errorf("created %s, want the commit date %s", got, testDate)
	}

	// Every file of the flattened filesystem: nothing but what the image needs, no shell.
	files := filesystem(t, img)
	want := []string{
		"etc", "etc/group", "etc/passwd", "etc/ssl", "etc/ssl/certs", "etc/ssl/certs/ca-certificates.crt",
		"home", "home/nonroot", "root", "roster", "tmp",
	}
	var got []string
	for p := range files {
		got = append(got, p)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("image files = %q, want %q", got, want)
	}
	for p := range files {
		base := filepath.Base(p)
		if slices.Contains([]string{"sh", "bash", "ash", "dash", "busybox"}, base) || strings.HasPrefix(p, "bin/") || strings.HasPrefix(p, "usr/") {
			t.Errorf("the image holds %s: no shell or tools belong in it", p)
		}
	}
	ca, _ := os.ReadFile(defaultCACerts)
	if !bytes.Equal(files["etc/ssl/certs/ca-certificates.crt"].data, ca) {
		t.Errorf("/etc/ssl/certs/ca-certificates.crt differs from the build machine's %s", defaultCACerts)
	}
	if !strings.Contains(string(files["etc/passwd"].data), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd does not name the user 65532:\n%s", files["etc/passwd"].data)
	}
	if h := files["tmp"].hdr; h == nil || h.Typeflag != tar.TypeDir || h.Mode&0o1777 != 0o1777 {
		t.Errorf("/tmp is not world-writable and sticky: %+v", h)
	}
	for p, f := range files {
		if !f.hdr.ModTime.Equal(cf.Created.Time) {
			t.Errorf("%s: mtime %s, want the commit date (reproducible layers)", p, f.hdr.ModTime)
		}
	}

	// The binary in the layer is the one built, and says the version it was built with.
	roster := files["roster"]
	if roster.hdr.Mode&0o111 == 0 || roster.hdr.Uid != 0 {
		t.Errorf("/roster: mode %o uid %d, want executable and owned by root (read-only to the non-root user)", roster.hdr.Mode, roster.hdr.Uid)
	}
	extracted := filepath.Join(tmp, "roster-from-image")
	if err := os.WriteFile(extracted, roster.data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(extracted, "version", "--json").Output()
	if err != nil {
		t.Fatalf("roster version from the image: %v", err)
	}
	var v struct{ Version, Commit, Date string }
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("roster version --json: %v\n%s", err, out)
	}
	if v.Version != testVersion || v.Commit != testCommit || v.Date != testDate {
		t.Errorf("roster version in the image = %+v, want %s %s %s", v, testVersion, testCommit, testDate)
	}

	// The docker load tarball holds the same image under the tag.
	ref, _ := name.NewTag(testTag)
	timg, err := tarball.ImageFromPath(res.Tarball, &ref)
	if err != nil {
		t.Fatalf("reading %s: %v", res.Tarball, err)
	}
	tcfg, _ := timg.ConfigName()
	lcfg, _ := img.ConfigName()
	if tcfg != lcfg {
		t.Errorf("tarball config %s, layout config %s: not the same image", tcfg, lcfg)
	}

	checkSBOM(t, res, bin)
	checkSBOMArtifact(t, res)

	// Reproducible: the same binary and CA bundle give the same digest.
	again, err := build(stamped(bin, filepath.Join(tmp, "two"), defaultCACerts))
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != res.Digest {
		t.Errorf("second build digest %s, first %s: the image is not reproducible", again.Digest, res.Digest)
	}
	sbom1, _ := os.ReadFile(res.SBOM)
	sbom2, _ := os.ReadFile(again.SBOM)
	if !bytes.Equal(sbom1, sbom2) {
		t.Error("the two builds wrote different SBOMs")
	}
}

// checkSBOM: the SBOM names the image by digest and every module linked into the binary with
// its version and checksum.
func checkSBOM(t *testing.T, res *result, bin string) {
	t.Helper()
	raw, err := os.ReadFile(res.SBOM)
	if err != nil {
		t.Fatal(err)
	}
	var doc spdxDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("SBOM: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.SPDXID != "SPDXRef-DOCUMENT" {
		t.Errorf("SBOM header %s %s %s", doc.SPDXVersion, doc.DataLicense, doc.SPDXID)
	}
	byName := map[string]spdxPackage{}
	ids := map[string]bool{}
	for _, p := range doc.Packages {
		byName[p.Name] = p
		if ids[p.SPDXID] || spdxIDUnsafe.MatchString(strings.TrimPrefix(p.SPDXID, "SPDXRef-")) {
			t.Errorf("SBOM package %s: SPDXID %q is repeated or invalid", p.Name, p.SPDXID)
		}
		ids[p.SPDXID] = true
	}
	for _, r := range doc.Relationships {
		if !ids[r.Element] && r.Element != doc.SPDXID || !ids[r.Related] {
			t.Errorf("SBOM relationship %+v refers to a package that is not there", r)
		}
	}
	if img := byName["team/roster"]; len(img.Checksums) != 1 || img.Checksums[0].ChecksumValue != res.Digest.Hex {
		t.Errorf("SBOM image package %+v, want the checksum %s", img, res.Digest.Hex)
	}
	if m := byName["github.com/rosterhq/roster"]; m.VersionInfo != testVersion || !strings.HasSuffix(m.DownloadLocation, "@"+testCommit) {
		t.Errorf("SBOM main module %+v, want version %s at commit %s", m, testVersion, testCommit)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Deps) < 50 {
		t.Fatalf("only %d modules in the binary's build info", len(info.Deps))
	}
	for _, m := range info.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		p, ok := byName[m.Path]
		if !ok {
			t.Errorf("SBOM lacks module %s", m.Path)
			continue
		}
		if p.VersionInfo != m.Version || len(p.Checksums) != 1 || p.Comment != "go.sum "+m.Sum || !strings.HasPrefix(p.DownloadLocation, "https://proxy.golang.org/") {
			t.Errorf("SBOM module %s: version %q checksums %v comment %q, want %s %s", m.Path, p.VersionInfo, p.Checksums, p.Comment, m.Version, m.Sum)
		}
	}
}

// TestBadInput: each refusal says what is wrong and leaves the output directory alone.
// checkSBOMArtifact: the SBOM layout holds one artifact whose subject is the image and whose
// one layer is the SBOM file.
func checkSBOMArtifact(t *testing.T, res *result) {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(res.SBOMLayout)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != res.SBOMDigest || im.Manifests[0].ArtifactType != "application/spdx+json" {
		t.Fatalf("SBOM layout index %+v, want the one SPDX artifact %s", im.Manifests, res.SBOMDigest)
	}
	art, err := idx.Image(res.SBOMDigest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := art.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject == nil || m.Subject.Digest != res.Digest || m.Config.MediaType != "application/vnd.oci.empty.v1+json" || len(m.Layers) != 1 {
		t.Fatalf("SBOM artifact manifest %+v, want subject %s, the empty config and one layer", m, res.Digest)
	}
	rc, err := layout.Path(res.SBOMLayout).Blob(m.Layers[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	want, _ := os.ReadFile(res.SBOM)
	if !bytes.Equal(got, want) {
		t.Error("the SBOM artifact's layer is not sbom.spdx.json")
	}
}

func TestProxyEscape(t *testing.T) {
	for in, want := range map[string]string{
		"github.com/NYTimes/gziphandler":     "github.com/!n!y!times/gziphandler",
		"k8s.io/api":                         "k8s.io/api",
		"v0.0.0-20180830191138-d8f796af33cc": "v0.0.0-20180830191138-d8f796af33cc",
	} {
		if got := proxyEscape(in); got != want {
			t.Errorf("proxyEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBadInput(t *testing.T) {
	tmp := t.TempDir()
	notGo := filepath.Join(tmp, "not-go")
	noPEM := filepath.Join(tmp, "no-pem")
	for _, f := range []string{notGo, noPEM} {
		if err := os.WriteFile(f, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The test binary itself: a Go binary, but without the Makefile's version -X flags.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    options
		want string
	}{
		{"no binary", options{}, "--binary is required"},
		{"missing binary", options{Binary: filepath.Join(tmp, "nope")}, "not a Go binary"},
		{"not a Go binary", options{Binary: notGo}, "not a Go binary"},
		// Built by go test: cgo on, or (CGO_ENABLED=0) no version flags.
		{"not built by make image", options{Binary: self, Version: "v1", Commit: "c", Date: testDate}, "make image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Out = filepath.Join(tmp, "out")
			tt.o.CACerts = noPEM
			_, err := build(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("build = %v, want an error containing %q", err, tt.want)
			}
			if _, err := os.Stat(tt.o.Out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused build wrote %s", tt.o.Out)
			}
		})
	}
}

// stamped are the options make image would pass for the binary buildRoster builds.
func stamped(bin, out, ca string) options {
	return options{Binary: bin, Out: out, Tag: testTag, CACerts: ca, Licenses: "NOASSERTION",
		Version: testVersion, Commit: testCommit, Date: testDate}
}

// buildRoster builds the repository's binary as the Makefile does (static, -trimpath, the
// version linked in) for the host's architecture, so the test can run it.
func buildRoster(t *testing.T, out string) string {
	t.Helper()
	pkg := "github.com/rosterhq/roster/internal/version"
	ldflags := "-s -w -X " + pkg + ".Version=" + testVersion + " -X " + pkg + ".Commit=" + testCommit + " -X " + pkg + ".Date=" + testDate
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, ".")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

type entry struct {
	hdr  *tar.Header
	data []byte
}

// filesystem is the image's flattened filesystem, path → header and content.
func filesystem(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]entry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = entry{hdr: h, data: data}
	}
}
