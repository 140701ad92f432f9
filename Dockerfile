# The project's worker (and the local LLM server, and the CLI) as an image. Configured only by the
# environment variables src/config/ reads, exactly as when run locally. See docker-compose.yml.
FROM node:20-slim

WORKDIR /app
# Dependencies first, so editing source does not re-install them. `npm ci` installs the lockfile's
# versions, dev dependencies included: the worker runs TypeScript directly through tsx.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY src ./src
COPY examples ./examples

# Run artifacts (report.md, timeline.html) and offloaded payloads: a volume shared by every worker.
ENV RUNS_DIR=/data/runs \
    PAYLOAD_STORE_DIR=/data/runs/payloads
RUN mkdir -p /data/runs/payloads && chown -R node:node /data
VOLUME ["/data/runs"]
USER node

# Prometheus metrics (METRICS_PORT).
EXPOSE 9464
CMD ["npx", "tsx", "src/worker/main.ts"]
