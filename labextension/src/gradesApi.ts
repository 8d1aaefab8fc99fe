/**
 * Typed calls for submissions and grades (`submissions`, `grades`, `autograde`, `feedback/…`), on
 * top of the workbench API client (its error messages, its server settings), as eventsApi.ts does
 * for events.
 */
import { URLExt } from '@jupyterlab/coreutils';

import { API_NAMESPACE, WorkbenchAPI } from './api';

/** One task of a graded submission (final points: the newest manual adjustment wins). */
export interface ITaskGrade {
  id: string;
  points: number;
  max_points: number;
  auto_points?: number | null;
  /** passed, failed, error, timeout, memory, killed, manual, missing. */
  status: string;
  message: string;
  adjusted_by?: string | null;
  comment?: string;
}

/** A stored submission with its grade once graded. */
export interface ISubmission {
  id: number;
  course: string;
  lab: string;
  student: string;
  submitted: string;
  /** E.g. "pending", "graded", "failed". */
  status: string;
  message?: string | null;
  graded?: string | null;
  score: number | null;
  max_score: number | null;
  raw_score?: number | null;
  penalty?: number | null;
  late_s?: number | null;
  needs_manual?: boolean;
  tasks: ITaskGrade[];
}

/** One student's row of the gradebook: their latest submission of the lab. */
export interface IGradeRow {
  student: string;
  submission: number;
  status: string;
  score: number | null;
  max_score: number | null;
  penalty?: number | null;
  needs_manual?: boolean;
  /** Final points per task id. */
  points: Record<string, number>;
  /** Per-task details (maximum, status, who adjusted) when known. */
  tasks: Record<string, ITaskGrade>;
}

/** Students with these points: exactly low when low == high, else in [low, high) (the last range closed). */
export interface IHistogramBin {
  low: number;
  high: number;
  count: number;
}

/** A task of a submission that failed because a sandbox limit was reached. */
export interface ILimitFailure {
  student: string;
  submission: number;
  task: string;
  /** memory, time, output, disk, processes, file size. */
  kind: string;
  status: string;
  message: string;
}

/** The class at a glance (instructors): histograms and the tasks lost to limits. */
export interface IOverview {
  students: number;
  graded: number;
  scores: { max_score: number; mean: number | null; bins: IHistogramBin[] };
  tasks: {
    id: string;
    max_points: number;
    mean: number;
    bins: IHistogramBin[];
  }[];
  limits: ILimitFailure[];
  /** Submissions per limit kind. */
  limit_counts: Record<string, number>;
}

/** The students × tasks table of one lab (`GET grades`). */
export interface IGradebook {
  course: string;
  lab: string;
  /** Task ids in notebook order. */
  tasks: string[];
  rows: IGradeRow[];
  /** Present for instructors. */
  overview?: IOverview;
}

/** The submissions-and-grades part of the workbench API. */
export class GradesAPI {
  constructor(private readonly api: WorkbenchAPI) {}

  /** Submit the saved `<course>/<lab>.ipynb`; grading is queued. */
  submit(course: string, lab: string): Promise<ISubmission> {
    return this.api.request<ISubmission>('submissions', {
      method: 'POST',
      body: JSON.stringify({ course, lab })
    });
  }

  /** Own submissions of a course (everyone's for instructors), newest first. */
  async submissions(course: string, lab?: string): Promise<ISubmission[]> {
    let query = `course=${encodeURIComponent(course)}`;
    if (lab) {
      query += `&lab=${encodeURIComponent(lab)}`;
    }
    const data = await this.api.request<any>(`submissions?${query}`);
    return listOf<ISubmission>(data, 'submissions');
  }

  /**
   * The gradebook of a lab: `GET grades`, with each task's maximum, status and
   * adjustment filled in from the submissions when they can be read.
   */
  async grades(course: string, lab: string): Promise<IGradebook> {
    const query = `course=${encodeURIComponent(course)}&lab=${encodeURIComponent(lab)}`;
    const [book, submissions] = await Promise.all([
      this.api.request<any>(`grades?${query}`),
      this.submissions(course, lab).catch(() => [] as ISubmission[])
    ]);
    const details = new Map(submissions.map(s => [s.id, s]));
    const rows: IGradeRow[] = listOf<any>(book, 'rows').map(row => {
      const tasks: Record<string, ITaskGrade> = {};
      for (const task of details.get(row.submission)?.tasks ?? []) {
        tasks[task.id] = task;
      }
      return { ...row, points: row.points ?? {}, tasks };
    });
    return {
      course,
      lab,
      tasks: Array.isArray(book?.tasks) ? book.tasks.map(String) : [],
      rows,
      overview: book?.overview ?? undefined
    };
  }

  setPoints(
    submission: number,
    task: string,
    points: number,
    comment = ''
  ): Promise<unknown> {
    return this.api.request<unknown>(
      `grades/${encodeURIComponent(String(submission))}/${encodeURIComponent(task)}`,
      { method: 'PUT', body: JSON.stringify({ points, comment }) }
    );
  }

  /** Queue grading of the lab's submissions not yet graded against its current source. */
  autograde(course: string, lab: string): Promise<{ queued: number[] }> {
    return this.api.request<{ queued: number[] }>('autograde', {
      method: 'POST',
      body: JSON.stringify({ course, lab })
    });
  }

  /** The URL of a submission's feedback page (HTML), for a link or a new tab. */
  feedbackUrl(submission: number): string {
    return URLExt.join(
      this.api.serverSettings.baseUrl,
      API_NAMESPACE,
      `feedback/${encodeURIComponent(String(submission))}`
    );
  }
}

/** A list from a body that is either the list itself or `{key: list}`. */
function listOf<T>(data: any, key: string): T[] {
  if (Array.isArray(data)) {
    return data as T[];
  }
  if (data && Array.isArray(data[key])) {
    return data[key] as T[];
  }
  return [];
}
