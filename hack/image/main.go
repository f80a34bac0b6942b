// Command image builds Roster's container image without a Docker engine or a base image: two
// layers it writes itself (a minimal root filesystem, then the static roster binary), an OCI
// image layout, a `docker load`-able tarball, an SPDX SBOM and a second OCI layout holding the
// SBOM as an artifact whose subject is the image, all under one directory.
//
// The version, commit and date are the ones the binary was linked with (internal/version;
// hack/image refuses a binary that does not contain them), so the labels cannot disagree with
// `roster version`; the platform comes from the binary's Go build info. The commit date fixes
// every timestamp, so two builds of one commit with the same Go toolchain and CA bundle give
// the same digest.
//
//	go run ./hack/image --binary bin/image/roster-linux-amd64 --version V --commit C --date D \
//	    --out bin/image --tag REG/roster:TAG
//
// `make image` builds the binary and runs this; docs/operations.md ("Image") says what is in it.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var o options
	flag.StringVar(&o.Binary, "binary", "", "static Linux roster binary built with the Makefile's LDFLAGS (required)")
	flag.StringVar(&o.Version, "version", "", "version the binary was linked with (required)")
	flag.StringVar(&o.Commit, "commit", "", "commit the binary was linked with (required)")
	flag.StringVar(&o.Date, "date", "", "build date the binary was linked with, RFC 3339; every timestamp of the image (required)")
	flag.StringVar(&o.Out, "out", "bin/image", "output directory: oci/ (OCI layout), roster.tar (docker load), sbom.spdx.json, sbom-oci/ (the SBOM as an OCI artifact)")
	flag.StringVar(&o.Tag, "tag", "", "image name written into the tarball and the layout (default ghcr.io/rosterhq/roster:<version>)")
	flag.StringVar(&o.CACerts, "ca-certs", defaultCACerts, "PEM bundle copied to /etc/ssl/certs/ca-certificates.crt")
	flag.StringVar(&o.Source, "source", "", "org.opencontainers.image.source (default https://<main module path>)")
	flag.StringVar(&o.Licenses, "licenses", "NOASSERTION", "org.opencontainers.image.licenses, an SPDX license expression")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "image: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	res, err := build(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf("%s@%s\n  layout:  %s\n  tarball: %s\n  sbom:    %s\n  sbom artifact (subject: the image): %s @%s\n",
		res.Tag, res.Digest, res.Layout, res.Tarball, res.SBOM, res.SBOMLayout, res.SBOMDigest)
}
