# The project's worker (and the local LLM server, and the CLI) as an image. Configured only by the
# environment variables src/config/ reads, exactly as when run locally. See docker-compose.yml.
FROM node:20-slim

WORKDIR /app
# Dependencies first, so editing source does not re-install them. `npm ci` installs the lockfile's
# versions (dev dependencies included: TypeScript compiles the sources below); its `prepare` build
# waits for the sources (--ignore-scripts), then `npm run build` compiles them to dist/.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts && npm cache clean --force

COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
COPY examples ./examples
RUN npm run build

# Run artifacts (report.md, timeline.html) and offloaded payloads: a volume shared by every worker.
ENV RUNS_DIR=/data/runs \
    PAYLOAD_STORE_DIR=/data/runs/payloads
RUN mkdir -p /data/runs/payloads && chown -R node:node /data
VOLUME ["/data/runs"]
USER node

# Prometheus metrics (METRICS_PORT).
EXPOSE 9464
CMD ["node", "dist/src/worker/main.js"]
