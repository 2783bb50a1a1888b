# Shoal in a container, built from the packed tarball exactly as a user's
# project installs it (no sources, no devDependencies in the final image).
#
# NOT RUN HERE: the machines this repository is developed and tested on cannot
# run containers, so this file has not been built. What it runs is tested
# without a container by test/package/installed-package.test.ts (pack, install
# the tarball into a fresh project, serve, stop by signal).
#
#   docker build -t shoal .
#   docker run --rm -p 9001:9001 --stop-timeout 20 shoal
#
# Your own app: put app.ts (or app.js) next to this file, uncomment the COPY
# line below and change --app echo to --app ./app.ts. docs/deploy.md explains
# the command line and the stop sequence.

# Stage 1: build the package tarball (npm pack runs the build).
FROM node:24-bookworm-slim AS pack
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund && mkdir /pack && npm pack --pack-destination /pack

# Stage 2: a project that installs the tarball, as a user would.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /srv/app
COPY --from=pack /pack/ /tmp/pack/
RUN echo '{"name":"shoal-app","private":true,"type":"module"}' > package.json \
  && npm install --omit=dev --no-audit --no-fund /tmp/pack/*.tgz \
  && rm -rf /tmp/pack /root/.npm
# COPY app.ts ./
USER node
EXPOSE 9001
# node is PID 1 and handles SIGTERM itself: close 1001 to every client, drain
# (at most --drain-timeout, 10 s), exit 0. --stop-timeout above must be longer.
STOPSIGNAL SIGTERM
CMD ["node", "node_modules/@shoal-ws/shoal/bin/shoal.js", "serve", "--host", "0.0.0.0", "--port", "9001", "--app", "echo"]
