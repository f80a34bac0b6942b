package main

import (
	"bytes"
	"crypto/x509"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// defaultCACerts is Debian's and Ubuntu's bundle (package ca-certificates), the file Go's
	// crypto/x509 reads first on Linux.
	defaultCACerts = "/etc/ssl/certs/ca-certificates.crt"
	// versionPkg is where the Makefile's -ldflags -X put the version.
	versionPkg = "github.com/rosterhq/roster/internal/version"
	// nonroot is the user the image runs as: the same UID as distroless's nonroot, which
	// config/manager's securityContext names.
	nonroot = 65532
)

// options are the command line of hack/image.
type options struct {
	Binary, Out, Tag, CACerts, Source, Licenses string
	// Version, Commit and Date are what the binary was linked with (internal/version).
	Version, Commit, Date string
}

// result says where build wrote what.
type result struct {
	Tag                   string
	Digest                v1.Hash
	Layout, Tarball, SBOM string
	// SBOMLayout is an OCI layout holding the SBOM as an artifact whose subject is the image.
	SBOMLayout               string
	SBOMDigest               v1.Hash
	Version, Commit, Created string
	Platform                 v1.Platform
}

// stamp is what the binary says about its build.
type stamp struct {
	version, commit string
	created         time.Time
	platform        v1.Platform
	info            *buildinfo.BuildInfo
	binary          []byte
}

// build checks its inputs before writing anything, then replaces o.Out's oci/, roster.tar and
// sbom.spdx.json.
func build(o options) (*result, error) {
	if o.Binary == "" {
		return nil, errors.New("--binary is required (make image builds it)")
	}
	if o.Out == "" {
		return nil, errors.New("--out must not be empty")
	}
	st, err := readStamp(o.Binary, o)
	if err != nil {
		return nil, err
	}
	if o.Tag == "" {
		o.Tag = "ghcr.io/rosterhq/roster:" + st.version
	}
	tag, err := name.NewTag(o.Tag, name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("--tag %q: %w (want registry/repository:tag)", o.Tag, err)
	}
	if o.Source == "" {
		o.Source = "https://" + st.info.Main.Path
	}
	binary := st.binary
	ca, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w (Debian/Ubuntu: apt-get install ca-certificates; or --ca-certs FILE)", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("CA certificates: %s holds no PEM certificate", o.CACerts)
	}

	img, err := assemble(st, binary, ca, o)
	if err != nil {
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}

	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	res := &result{
		Tag: tag.String(), Digest: digest,
		Layout:     filepath.Join(o.Out, "oci"),
		Tarball:    filepath.Join(o.Out, "roster.tar"),
		SBOM:       filepath.Join(o.Out, "sbom.spdx.json"),
		SBOMLayout: filepath.Join(o.Out, "sbom-oci"),
		Version:    st.version, Commit: st.commit, Created: st.created.Format(time.RFC3339),
		Platform: st.platform,
	}
	// A layout is appended to, never overwritten: start from an empty one so it holds exactly
	// this image (crane push wants one).
	if err := os.RemoveAll(res.Layout); err != nil {
		return nil, err
	}
	lp, err := layout.Write(res.Layout, empty.Index)
	if err != nil {
		return nil, err
	}
	if err := lp.WriteImage(img); err != nil {
		return nil, fmt.Errorf("writing the OCI layout: %w", err)
	}
	// The index entry is written by hand: layout.AppendImage would give it an artifactType,
	// which the OCI spec reserves for artifacts, not images.
	desc, err := partial.Descriptor(img)
	if err != nil {
		return nil, err
	}
	desc.ArtifactType = ""
	desc.Platform = &st.platform
	desc.Annotations = map[string]string{
		// skopeo copy oci:bin/image/oci:<tag> finds the image by this annotation.
		"org.opencontainers.image.ref.name": tag.TagStr(),
		"io.containerd.image.name":          tag.String(),
	}
	if err := lp.AppendDescriptor(*desc); err != nil {
		return nil, fmt.Errorf("writing the OCI layout: %w", err)
	}
	if err := tarball.WriteToFile(res.Tarball, tag, img); err != nil {
		return nil, fmt.Errorf("writing the tarball: %w", err)
	}
	sbom, err := spdxDocument(st, binary, ca, o, tag, digest)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(res.SBOM, sbom, 0o644); err != nil {
		return nil, err
	}
	if res.SBOMDigest, err = writeSBOMArtifact(res.SBOMLayout, sbom, *desc, res.Created); err != nil {
		return nil, err
	}
	return res, nil
}

// assemble builds the image in memory.
func assemble(st *stamp, binary, ca []byte, o options) (v1.Image, error) {
	base, err := layer(baseFiles(ca), st.created)
	if err != nil {
		return nil, err
	}
	bin, err := layer([]file{{path: "roster", mode: 0o755, data: binary}}, st.created)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{
		"org.opencontainers.image.title":       "roster",
		"org.opencontainers.image.description": "Roster: a SCIM 2.0 service provider for Kubernetes",
		"org.opencontainers.image.version":     st.version,
		"org.opencontainers.image.revision":    st.commit,
		"org.opencontainers.image.created":     st.created.Format(time.RFC3339),
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.licenses":    o.Licenses,
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: st.platform.Architecture,
		OS:           st.platform.OS,
		Variant:      st.platform.Variant,
		// Runtimes refuse a config whose rootfs type is not "layers"; Append fills diff_ids.
		RootFS: v1.RootFS{Type: "layers"},
		Config: v1.Config{
			// Numeric, so runAsNonRoot can verify it without reading /etc/passwd.
			User:       fmt.Sprintf("%d:%d", nonroot, nonroot),
			Entrypoint: []string{"/roster"},
			// config/manager passes its own arguments, starting with "manager".
			Cmd:        []string{"manager"},
			WorkingDir: "/",
			Labels:     labels,
		},
	})
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: st.created}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "hack/image: root filesystem",
			Comment: fmt.Sprintf("/etc/passwd, /etc/group (nonroot %d), CA certificates from %s of the build machine, /tmp", nonroot, o.CACerts)}},
		mutate.Addendum{Layer: bin, History: v1.History{Created: created, CreatedBy: "hack/image: /roster",
			Comment: "roster " + st.version + " " + st.commit}},
	)
	if err != nil {
		return nil, err
	}
	img, err = mutate.CreatedAt(img, created)
	if err != nil {
		return nil, err
	}
	ann, ok := mutate.Annotations(img, labels).(v1.Image)
	if !ok {
		return nil, errors.New("annotating the manifest did not return an image")
	}
	return ann, nil
}

// readStamp checks the binary against the version it is said to carry and reads the platform
// the Go toolchain built it for, refusing binaries that would not run in the image. The build
// info does not record -ldflags under -trimpath, so the -X values are looked for in the binary
// itself: a binary linked with another commit or date is refused, and the labels cannot
// disagree with `roster version`.
func readStamp(path string, o options) (*stamp, error) {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: not a Go binary with build info: %w", path, err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["GOOS"] != "linux" {
		return nil, fmt.Errorf("%s was built for GOOS=%s; the image needs GOOS=linux", path, settings["GOOS"])
	}
	// The image has no libc: a cgo binary would not start.
	if settings["CGO_ENABLED"] != "0" {
		return nil, fmt.Errorf("%s was built with cgo; the image needs a static binary (CGO_ENABLED=0, as make image builds it)", path)
	}
	if o.Version == "" || o.Commit == "" || o.Date == "" {
		return nil, errors.New("--version, --commit and --date are required: the values the binary was linked with (make image passes them)")
	}
	created, err := time.Parse(time.RFC3339, o.Date)
	if err != nil {
		return nil, fmt.Errorf("--date %q: want RFC 3339, e.g. 2026-01-02T03:04:05Z: %w", o.Date, err)
	}
	binary, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// A plausibility check, not a proof: the values must appear in the binary. A commit hash
	// and a build date are specific; the fallbacks "devel"/"unknown" of a build outside git
	// are in every roster binary, so such a build is not told apart from an unstamped one.
	for flag, v := range map[string]string{"--version": o.Version, "--commit": o.Commit, "--date": o.Date} {
		if !bytes.Contains(binary, []byte(v)) {
			return nil, fmt.Errorf("%s was not linked with %s=%s (-X %s); build it with make image", path, flag, v, versionPkg)
		}
	}
	return &stamp{
		version: o.Version,
		commit:  o.Commit,
		created: created.UTC(),
		info:    info,
		binary:  binary,
		platform: v1.Platform{OS: "linux", Architecture: settings["GOARCH"],
			Variant: variant(settings["GOARCH"], settings)},
	}, nil
}

// variant is the OCI platform variant for the architectures that have one.
func variant(arch string, settings map[string]string) string {
	switch arch {
	case "arm":
		if v := settings["GOARM"]; v != "" {
			return "v" + strings.TrimSuffix(strings.TrimSuffix(v, ",softfloat"), ",hardfloat")
		}
		return "v7"
	case "arm64":
		return "v8"
	}
	return ""
}
