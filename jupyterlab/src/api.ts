// The server extension's endpoints (kiln.jupyter.handlers), through Jupyter's own connection
// settings: its token or cookie, and its XSRF header, are added by ServerConnection.
import { URLExt } from "@jupyterlab/coreutils";
import { ServerConnection } from "@jupyterlab/services";

export interface KilnError { message: string; where?: string | null; hint?: string | null; cell?: number | null; line?: number | null }

export interface Analysis {
  ok: boolean;
  error: KilnError | null;
  pipeline?: string;
  steps: { name: string; after: string[] }[];
  graph: { nodes: { id: string }[]; edges: { from: string; to: string }[] } | null;
  warnings: string[];
}

export interface RunInfo {
  id: string;
  name?: string;
  status: string;
  tasks: { step: string; status: string; error?: string | null }[];
}

export async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, "kilnflow", path);
  const r = await ServerConnection.makeRequest(url, init, settings);
  let body: any = null;
  try { body = await r.json(); } catch { /* not JSON */ }
  if (!r.ok) {
    const e = (body && body.error) || {};
    throw new Error([e.message || `kilnflow answered ${r.status}`, e.where ? `(${e.where})` : "", e.hint ? `— ${e.hint}` : ""].filter(Boolean).join(" "));
  }
  return body as T;
}

export const analyse = (notebook: unknown, name: string) =>
  request<Analysis>("analyse", { method: "POST", body: JSON.stringify({ notebook, name }) });

export const startRun = (notebook: unknown, name: string) =>
  request<RunInfo>("run", { method: "POST", body: JSON.stringify({ notebook, name }) });

export const getRun = (id: string) => request<RunInfo>(`runs/${encodeURIComponent(id)}`);

let dashboard: Promise<string> | null = null;

/** The dashboard's address (the server extension knows it). */
export function dashboardUrl(): Promise<string> {
  dashboard ||= request<{ dashboard: string }>("config").then((c) => c.dashboard).catch(() => "http://127.0.0.1:8765");
  return dashboard;
}

export interface StudyInfo {
  name: string;
  status: string;
  error: string | null;
  counts: Record<string, number>;
  best: { number: number; value: number; params: Record<string, unknown> } | null;
  trials: { number: number; state: string; params: Record<string, unknown>; value: number | null }[];
}

export const startStudy = (path: string) =>
  request<{ study: string }>("tune", { method: "POST", body: JSON.stringify({ path }) });

export const getStudy = (name: string) => request<StudyInfo>(`studies/${encodeURIComponent(name)}`);

export const compileKfp = (path: string) =>
  request<{ package: string; bytes: number }>("compile", { method: "POST", body: JSON.stringify({ path }) });

export const snapshotVolume = (volume: string) =>
  request<{ id: string; volume: string; files: number }>("snapshot", { method: "POST", body: JSON.stringify({ volume }) });

export const stepLog = (run: string, step: string) =>
  request<{ step: string; status: string; log: string }>(`runs/${encodeURIComponent(run)}/steps/${encodeURIComponent(step)}/log`);

export const serveRun = (run: string) =>
  request<{ model: string; said: string }>("serve", { method: "POST", body: JSON.stringify({ run }) });

export const submitKfp = (path: string, host: string) =>
  request<{ said: string }>("submit", { method: "POST", body: JSON.stringify({ path, host }) });
