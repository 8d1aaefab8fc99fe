/**
 * Typed calls for hackathon events (`<base_url>/workbench/api/v1/events/…`), on top of the
 * workbench API client (its error messages, its server settings).
 */
import { URLExt } from '@jupyterlab/coreutils';

import { API_NAMESPACE, WorkbenchAPI } from './api';

export interface IPhase {
  id: string;
  title: string;
  opens: string;
  closes: string;
  blind: boolean;
  migrate_from: string | null;
}

export interface IEvent {
  id: string;
  title: string;
  description: string;
  timezone: string;
  opens: string;
  closes: string;
  phases: IPhase[];
  metric: string;
  higher_is_better: boolean;
  teams: { mode: string; max_size: number; merge_deadline: string | null };
  limits: { per_day: number; total: number };
  selection: { rule: string; k: number };
  kinds: string[];
  organisers: string[];
  finalized: boolean;
  /** Present on `GET events/{id}`: who asks, their team and whether they organise it. */
  me?: { user: string; team: string | null; organiser: boolean };
}

/** One row of a board; a baseline has no rank. */
export interface IBoardRow {
  rank: number | null;
  team: string;
  name: string;
  baseline: boolean;
  score?: number | null;
  submission?: number | null;
  submitted?: string | null;
  entries?: number;
  /** Blind phases: how many submissions were received, and nothing else. */
  received?: number;
  /** Private board only. */
  public_score?: number | null;
  public_rank?: number | null;
  /** Public rank minus private rank: positive climbed, negative fell. */
  shake_up?: number | null;
}

export interface IBoard {
  event: string;
  phase: string;
  blind?: boolean;
  metric: string;
  higher_is_better?: boolean;
  finalized?: string;
  rows: IBoardRow[];
}

export interface ITeam {
  id: string;
  name: string;
  members: string[];
  created: string;
  merged_into: string | null;
  submissions: number;
  /** Organisers only: device-hours the team's kernels used, and the event's limit. */
  device_hours?: { used: number; limit: number | null };
}

export interface IEventSubmission {
  id: number;
  team: string;
  member: string;
  kind: string;
  phase: string;
  created: string;
  sha256: string;
  size: number;
  /** queued, running, scored, failed — or "received" in a blind phase. */
  status: string;
  reason: string;
  public_score: number | null;
  private_score?: number | null;
  chosen: boolean;
  final: boolean;
}

/** The events part of the workbench API. */
export class EventsAPI {
  constructor(private readonly api: WorkbenchAPI) {}

  async events(): Promise<IEvent[]> {
    const data = await this.api.request<{ events: IEvent[] }>('events');
    return data.events ?? [];
  }

  event(id: string): Promise<IEvent> {
    return this.api.request<IEvent>(`events/${encodeURIComponent(id)}`);
  }

  board(
    id: string,
    phase: string | null,
    privateBoard = false
  ): Promise<IBoard> {
    const query = privateBoard
      ? 'private=1'
      : phase
        ? `phase=${encodeURIComponent(phase)}`
        : '';
    return this.api.request<IBoard>(
      `events/${encodeURIComponent(id)}/board${query ? `?${query}` : ''}`
    );
  }

  async teams(id: string): Promise<ITeam[]> {
    const data = await this.api.request<{ teams: ITeam[] }>(
      `events/${encodeURIComponent(id)}/teams`
    );
    return data.teams ?? [];
  }

  createTeam(id: string, team: string, name: string): Promise<ITeam> {
    return this.api.request<ITeam>(`events/${encodeURIComponent(id)}/teams`, {
      method: 'POST',
      body: JSON.stringify({ id: team, name })
    });
  }

  joinTeam(id: string, team: string): Promise<ITeam> {
    return this.api.request<ITeam>(
      `events/${encodeURIComponent(id)}/teams/${encodeURIComponent(team)}/join`,
      { method: 'POST', body: '{}' }
    );
  }

  /** The caller's team's submissions (an organiser's: every team's). */
  async submissions(id: string): Promise<IEventSubmission[]> {
    const data = await this.api.request<{ submissions: IEventSubmission[] }>(
      `events/${encodeURIComponent(id)}/submissions`
    );
    return data.submissions ?? [];
  }

  /** Submit a file's bytes (base64) for the caller's team. */
  submit(
    id: string,
    kind: 'predictions' | 'notebook',
    contentBase64: string
  ): Promise<IEventSubmission> {
    return this.api.request<IEventSubmission>(
      `events/${encodeURIComponent(id)}/submissions`,
      {
        method: 'POST',
        body: JSON.stringify({ kind, content_base64: contentBase64 })
      }
    );
  }

  /** The caller's team's final entries (events whose selection rule is `chosen`). */
  choose(id: string, submissions: number[]): Promise<{ chosen: number[] }> {
    return this.api.request<{ chosen: number[] }>(
      `events/${encodeURIComponent(id)}/choose`,
      { method: 'POST', body: JSON.stringify({ submissions }) }
    );
  }

  finalize(id: string): Promise<IBoard> {
    return this.api.request<IBoard>(
      `events/${encodeURIComponent(id)}/finalize`,
      { method: 'POST', body: '{}' }
    );
  }

  /** Copy the starter and the public files into `events/<id>/` of the user's space (once). */
  open(id: string): Promise<{ path: string; created: boolean }> {
    return this.api.request<{ path: string; created: boolean }>(
      `events/${encodeURIComponent(id)}/open`,
      { method: 'POST', body: '{}' }
    );
  }

  /** Where an organiser downloads the final board or every submission's record (CSV). */
  exportUrl(id: string, what: 'board.csv' | 'submissions.csv'): string {
    return URLExt.join(
      this.api.serverSettings.baseUrl,
      API_NAMESPACE,
      `events/${encodeURIComponent(id)}/export/${what}`
    );
  }
}

/** The phase open now, else the last one that opened, else the first. */
export function currentPhase(event: IEvent, now = new Date()): IPhase | null {
  const open = event.phases.find(
    p => new Date(p.opens) <= now && now < new Date(p.closes)
  );
  if (open) {
    return open;
  }
  const started = event.phases.filter(p => new Date(p.opens) <= now);
  return started.length
    ? started[started.length - 1]
    : (event.phases[0] ?? null);
}

/** A score with four decimals, or a dash. */
export function formatScore(score: number | null | undefined): string {
  return score === null || score === undefined || isNaN(score)
    ? '–'
    : score.toFixed(4);
}
