/**
 * Preloaded (`node -r`) by telemetry.absent.spec.ts: makes Node's resolver fail for every @opentelemetry/*
 * package exactly as it does when the package is not installed (MODULE_NOT_FOUND, same message), and
 * counts the attempts, so the app in that child process runs as if the optional peer were absent.
 */
const Module = require('node:module');

const resolve = Module._resolveFilename;
let attempts = 0;
Module._resolveFilename = function (request, parent, ...rest) {
  if (typeof request === 'string' && request.startsWith('@opentelemetry/')) {
    attempts += 1;
    const error = new Error(`Cannot find module '${request}'\nRequire stack:\n- ${parent?.filename ?? '<unknown>'}`);
    error.code = 'MODULE_NOT_FOUND';
    error.requireStack = [parent?.filename];
    throw error;
  }
  return resolve.call(this, request, parent, ...rest);
};
globalThis.openTelemetryResolveAttempts = () => attempts;
