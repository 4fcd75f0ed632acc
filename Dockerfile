# syntax=docker/dockerfile:1
# test/ops/production-build.test.ts repeats these steps without Docker and starts the result.

# Stage 1: the whole toolchain, to compile TypeScript to dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# .npmrc holds legacy-peer-deps, which the lock file was resolved with.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY server ./server
COPY db ./db
COPY scripts ./scripts
COPY fhir-profiles ./fhir-profiles
RUN npm run build

# Stage 2: production dependencies and the compiled server only.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist

# PostgreSQL refuses to run as root: an unprivileged user can run the embedded cluster under /data
# (production sets DATABASE_URL instead). The admin CLI: node dist/scripts/admin.js ...
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
# One worker per CPU by default (NODE_ENV=production); set WORKERS to the container's CPU limit.
CMD ["node", "dist/server/main.js"]
