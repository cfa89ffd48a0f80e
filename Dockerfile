# Gantry itself in an image: gantryd, gantry and gantry-shim built from this tree.
#
#   docker build -t gantry .                                   # where a registry is reachable
#   docker build --build-arg BASE=gantry/base:bookworm -t gantry .   # here: local base image
#
# gantryd drives the host's engine, so run it with the socket mounted:
#   docker run -v /var/run/docker.sock:/var/run/docker.sock -p 127.0.0.1:8080:8080 gantry
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake make pkg-config ca-certificates \
      libyaml-cpp-dev nlohmann-json3-dev libfmt-dev libcurl4-openssl-dev \
      libboost-dev libssl-dev prometheus-cpp-dev libsqlite3-dev libarchive-dev libcli11-dev \
      libhowardhinnant-date-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DGANTRY_TESTS=OFF \
    && cmake --build /build -j2 --target gantryd gantry gantry-shim \
    && strip /build/bin/gantryd /build/bin/gantry /build/bin/gantry-shim

FROM ${BASE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 libyaml-cpp0.7 libfmt9 libsqlite3-0 libarchive13 libssl3 libprometheus-cpp-core1.0 \
      libdate-tz3 tzdata \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/bin/gantryd /build/bin/gantry /build/bin/gantry-shim /usr/local/bin/
EXPOSE 8080
ENTRYPOINT ["gantryd"]
