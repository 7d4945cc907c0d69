# The interopgate image: one static binary, every subcommand (gateway, revalidator, filter, devnet).
#   docker build -t interopgate .          (or: make image)
#   docker run --rm interopgate gateway --config /etc/interopgate/gateway.toml
# Multi-stage: the build stage has the Go toolchain; the image has only the binary, runs as a
# non-root user, and needs no shell (distroless static), so it suits a read-only root filesystem.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/interopgate ./cmd/interopgate

FROM gcr.io/distroless/static-debian12:nonroot AS image
COPY --from=build /out/interopgate /usr/local/bin/interopgate
# 65532 is distroless's "nonroot" user.
USER 65532:65532
# gateway 8545, filter 8560, revalidator 8561, metrics 7300
EXPOSE 8545 8560 8561 7300
ENTRYPOINT ["/usr/local/bin/interopgate"]
