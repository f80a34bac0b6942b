# syntax=docker/dockerfile:1
# Roster's container image for teams with a Docker engine: `docker build -t roster:dev .`
#
# The tested path is `make image` (hack/image): no Docker engine, no base image pulled, the
# same static binary as `make build`, reproducible, with an SBOM; its test runs in `make test`.
# This Dockerfile is not built by any test and is kept in step by inspection: the binary at
# /roster, user 65532:65532, `manager` as the first argument (config/manager), and the same
# version ldflags, e.g.
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg BUILD_DATE=$(date -u -d @$(git log -1 --format=%ct) +%Y-%m-%dT%H:%M:%SZ) -t roster:dev .
# Unlike `make image`, it pulls golang and distroless images and its layers carry build times.

# Build on the builder's own platform and cross-compile: pure Go (CGO_ENABLED=0; the sqlite
# identity store is modernc.org/sqlite, no cgo), so no emulation is needed for other arches.
FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
# What `roster version` prints (internal/version); the Makefile computes them from git.
ARG VERSION=devel
ARG COMMIT=unknown
ARG BUILD_DATE=unknown
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local

# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

# Sources, including the files the binary embeds (config/crd/bases/*.yaml and the identity
# store migrations); .dockerignore keeps everything else out of the build context.
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -o /out/roster \
      -ldflags="-s -w -X github.com/rosterhq/roster/internal/version.Version=${VERSION} -X github.com/rosterhq/roster/internal/version.Commit=${COMMIT} -X github.com/rosterhq/roster/internal/version.Date=${BUILD_DATE}" .

# No shell, no package manager; the nonroot variant's user is 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /out/roster /roster
USER 65532:65532
ENTRYPOINT ["/roster"]
CMD ["manager"]
