/**
 * The suite's figures: each scenario records what it measured in reports/fault-figures.json (written
 * before its assertions, so a failing scenario's figures are there to look at); scripts/fault-figures.js
 * prints them as a table.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const FIGURES_FILE = process.env.NZL_FAULT_FIGURES || join(__dirname, '../../../reports/fault-figures.json');

/** Answers by HTTP status; for LockService calls: 200 acquired, 400 InvalidLockIdError, 409 LockConflictError, 503 LockUnavailableError. */
export interface Outcomes {
  200: number;
  400: number;
  409: number;
  503: number;
  other: number;
}

export function emptyOutcomes(): Outcomes {
  return { 200: 0, 400: 0, 409: 0, 503: 0, other: 0 };
}

export interface ScenarioFigures {
  /** "<n>. <name>": the number orders the table. */
  scenario: string;
  requests: number;
  outcomes: Outcomes;
  /** Number of 200s minus the counter increments found (null or absent: not applicable). */
  lostUpdates?: number | null;
  overlaps?: number | null;
  maxLatencyMs: number | null;
  /** Nodes left under the scenario's namespace after the run, besides scope directories. */
  orphanedNodes: number | null;
  extra?: Record<string, string | number | boolean>;
}

export interface FiguresFile {
  startedAt?: string;
  machine?: Record<string, string | number>;
  scenarios: Array<ScenarioFigures & { recordedAt: string; durationMs?: number }>;
}

export function readFigures(): FiguresFile {
  if (!existsSync(FIGURES_FILE)) return { scenarios: [] };
  return JSON.parse(readFileSync(FIGURES_FILE, 'utf8')) as FiguresFile;
}

export function writeFigures(file: FiguresFile): void {
  mkdirSync(dirname(FIGURES_FILE), { recursive: true });
  writeFileSync(FIGURES_FILE, JSON.stringify(file, null, 2) + '\n');
}

/** Records (or replaces) one scenario's figures. */
export function recordFigures(figures: ScenarioFigures): void {
  const file = readFigures();
  const rounded = {
    ...figures,
    lostUpdates: figures.lostUpdates ?? null,
    overlaps: figures.overlaps ?? null,
    maxLatencyMs: figures.maxLatencyMs === null ? null : Math.round(figures.maxLatencyMs),
  };
  file.scenarios = [...file.scenarios.filter((s) => s.scenario !== figures.scenario), { ...rounded, recordedAt: new Date().toISOString() }];
  file.scenarios.sort((a, b) => parseFloat(a.scenario) - parseFloat(b.scenario));
  writeFigures(file);
}
