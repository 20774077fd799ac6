# syntax=docker/dockerfile:1
# Onramp: one image for every role (serve, worker, migrate); see docker-compose.yml.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# Pure Go (the SQLite of `onramp dev` is modernc.org/sqlite): a static binary.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/onramp ./cmd/onramp

FROM debian:bookworm-slim
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ca-certificates \
	&& rm -rf /var/lib/apt/lists/* \
	&& useradd --system --uid 10001 --user-group --create-home --home-dir /home/onramp onramp
COPY --from=build /out/onramp /usr/local/bin/onramp
USER onramp
WORKDIR /home/onramp
ENV ONRAMP_ADDR=:8080 \
	ONRAMP_DATA_DIR=/home/onramp/.data
EXPOSE 8080
ENTRYPOINT ["onramp"]
CMD ["serve"]
