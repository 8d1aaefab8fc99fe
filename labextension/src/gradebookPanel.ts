/**
 * The instructor's Gradebook: students × tasks of one lab, points editable by hand,
 * an Autograde button, and the class at a glance: score histograms of the lab and of each
 * task, and the submissions whose tasks failed for a limit (memory, time, output), so a limit
 * set too tight shows at once. (The API offers no export yet: `workbench export` on the CLI.)
 */
import { ICourse, WorkbenchAPI } from './api';
import { GradesAPI, IGradebook, IGradeRow, IOverview } from './gradesApi';
import { histogramChart } from './histogram';
import {
  el,
  errorText,
  formatPoints,
  table,
  textButton,
  WorkbenchPanel
} from './panel';

/** How often the table is re-read while some submission waits for its grade. */
const POLL_INTERVAL_MS = 3_000;
const FINAL = new Set(['graded', 'failed']);

/**
 * A main-area panel with the gradebook of the chosen course and lab.
 */
export class GradebookPanel extends WorkbenchPanel {
  constructor(private readonly api: WorkbenchAPI) {
    super('Gradebook', 'jp-WorkbenchGradebook');
    this.title.label = 'Gradebook';
    this.title.caption = 'Workbench gradebook: students × tasks';
    this._grades = new GradesAPI(api);

    this._select = el('select', 'jp-WorkbenchGradebook-lab jp-mod-styled');
    this._select.title = 'Course and lab';
    this._select.setAttribute('aria-label', 'Course and lab');
    // a choice made while a load is in flight is loaded again (that load read the previous choice)
    this._select.addEventListener(
      'change',
      () => void this.refresh().then(() => this.refresh())
    );
    this._autograde = textButton(
      'Autograde',
      'Grade every submission of this lab again, in parallel',
      () => void this._runAutograde(),
      'jp-WorkbenchGradebook-autograde jp-mod-accept'
    );
    this.tools.prepend(this._select, this._autograde);
  }

  dispose(): void {
    window.clearTimeout(this._poll);
    super.dispose();
  }

  protected async load(): Promise<void> {
    window.clearTimeout(this._poll);
    if (!this._courses) {
      this.showInfo('Loading courses…');
      this._courses = await this.api.courses();
      this._fillSelect(this._courses);
    }
    const chosen = this._chosen();
    if (!chosen) {
      this.body.replaceChildren();
      this._autograde.disabled = true;
      this.showInfo(
        'No labs yet — add a course with `workbench course add PATH`.'
      );
      return;
    }
    this._autograde.disabled = false;
    if (this.body.childElementCount === 0) {
      this.showInfo(`Loading the gradebook of ${chosen.lab}…`);
    }
    const book = await this._grades.grades(chosen.course, chosen.lab);
    this.body.replaceChildren(
      this._renderTable(book),
      ...(book.overview ? renderOverview(book.overview) : [])
    );
    this.showInfo(
      book.rows.length === 0
        ? `No submissions of ${chosen.lab} yet.`
        : this._summary(book)
    );
    if (book.rows.some(r => r.status && !FINAL.has(r.status))) {
      this._poll = window.setTimeout(
        () => void this.refresh(),
        POLL_INTERVAL_MS
      );
    }
  }

  private _fillSelect(courses: ICourse[]): void {
    this._select.replaceChildren();
    for (const course of courses) {
      const group = el('optgroup');
      group.label = course.title || course.id;
      for (const lab of course.labs) {
        const option = el('option', '', lab.title || lab.id);
        option.value = JSON.stringify([course.id, lab.id]);
        group.appendChild(option);
      }
      this._select.appendChild(group);
    }
  }

  private _chosen(): { course: string; lab: string } | null {
    if (!this._select.value) {
      return null;
    }
    const [course, lab] = JSON.parse(this._select.value) as [string, string];
    return { course, lab };
  }

  private _summary(book: IGradebook): string {
    const graded = book.rows.filter(r => r.status === 'graded').length;
    return `${book.rows.length} student${book.rows.length === 1 ? '' : 's'}, ${graded} graded. Edit a task's points to override the autograder.`;
  }

  private _renderTable(book: IGradebook): HTMLElement {
    const maxima = new Map<string, number>();
    for (const row of book.rows) {
      for (const task of Object.values(row.tasks)) {
        maxima.set(task.id, task.max_points);
      }
    }
    const headings = [
      'Student',
      'Status',
      ...book.tasks.map(t =>
        maxima.has(t) ? `${t} (${formatPoints(maxima.get(t))})` : t
      ),
      'Total'
    ];
    const { table: node, body } = table(
      'jp-WorkbenchGradebook-table',
      headings
    );
    for (const row of book.rows) {
      const tr = body.insertRow();
      tr.className = 'jp-WorkbenchGradebook-row';
      tr.dataset.student = row.student;
      tr.insertCell().textContent = row.student;
      const status = tr.insertCell();
      status.textContent = row.status ?? '–';
      status.className = `jp-WorkbenchGradebook-status jp-mod-${row.status ?? 'none'}`;
      for (const task of book.tasks) {
        const cell = tr.insertCell();
        cell.dataset.task = task;
        cell.appendChild(this._pointsCell(row, task));
      }
      const total = tr.insertCell();
      total.className = 'jp-WorkbenchGradebook-total';
      total.textContent =
        row.score === null
          ? '–'
          : `${formatPoints(row.score)} / ${formatPoints(row.max_score)}`;
    }
    return node;
  }

  private _pointsCell(row: IGradeRow, taskId: string): HTMLElement {
    const points = row.points[taskId];
    if (points === undefined) {
      return el('span', 'jp-WorkbenchGradebook-none', '–');
    }
    const task = row.tasks[taskId];
    const input = el('input', 'jp-WorkbenchGradebook-points jp-mod-styled');
    input.type = 'number';
    input.min = '0';
    input.step = 'any';
    input.value = formatPoints(points);
    input.setAttribute('aria-label', `Points of ${row.student} for ${taskId}`);
    if (task) {
      input.max = String(task.max_points);
      const detail = [task.status, task.message].filter(Boolean).join(': ');
      const by = task.adjusted_by
        ? ` — set by ${task.adjusted_by}${task.comment ? ` (${task.comment})` : ''}`
        : '';
      input.title = `${detail}${by}`;
      input.classList.toggle('jp-mod-adjusted', Boolean(task.adjusted_by));
      input.classList.add(`jp-mod-${task.status}`);
    }
    const previous = input.value;
    input.addEventListener('change', () => {
      void this._save(row, taskId, input, previous);
    });
    return input;
  }

  private async _save(
    row: IGradeRow,
    taskId: string,
    input: HTMLInputElement,
    previous: string
  ): Promise<void> {
    const points = Number(input.value);
    if (input.value.trim() === '' || isNaN(points)) {
      input.value = previous;
      this.showError(new Error(`Points for ${taskId} must be a number.`));
      return;
    }
    input.disabled = true;
    try {
      await this._grades.setPoints(row.submission, taskId, points);
    } catch (error) {
      input.value = previous;
      input.disabled = false;
      this.showError(
        new Error(
          `Could not set ${taskId} of ${row.student}: ${errorText(error)}`
        )
      );
      return;
    }
    await this.refresh();
    this.showInfo(
      `Saved: ${row.student} gets ${formatPoints(points)} for ${taskId}.`
    );
  }

  private async _runAutograde(): Promise<void> {
    const chosen = this._chosen();
    if (!chosen) {
      return;
    }
    this._autograde.disabled = true;
    this.showInfo(`Autograding ${chosen.lab}…`);
    try {
      const answer = await this._grades.autograde(chosen.course, chosen.lab);
      await this.refresh();
      this.showInfo(autogradeSummary(chosen.lab, answer));
    } catch (error) {
      this.showError(error);
    } finally {
      this._autograde.disabled = false;
    }
  }

  private readonly _grades: GradesAPI;
  private _select: HTMLSelectElement;
  private _autograde: HTMLButtonElement;
  private _courses: ICourse[] | null = null;
  private _poll = 0;
}

/** Histograms of the lab's score and of each task's points, then the tasks lost to limits. */
function renderOverview(view: IOverview): HTMLElement[] {
  if (view.graded === 0) {
    return [];
  }
  const section = el('section', 'jp-WorkbenchGradebook-overview');
  section.appendChild(
    el(
      'h3',
      'jp-WorkbenchGradebook-overviewTitle',
      `Class overview: ${view.graded} of ${view.students} graded`
    )
  );
  const charts = el('div', 'jp-WorkbenchGradebook-charts');
  const mean =
    view.scores.mean === null ? '' : `, mean ${formatPoints(view.scores.mean)}`;
  const score = histogramChart(
    `Score out of ${formatPoints(view.scores.max_score)}${mean}`,
    view.scores.bins,
    'jp-mod-score'
  );
  charts.appendChild(score);
  for (const task of view.tasks) {
    const chart = histogramChart(
      `${task.id} out of ${formatPoints(task.max_points)}, mean ${formatPoints(task.mean)}`,
      task.bins,
      'jp-mod-task'
    );
    chart.dataset.task = task.id;
    charts.appendChild(chart);
  }
  section.appendChild(charts);

  const limits = el('div', 'jp-WorkbenchGradebook-limits');
  if (view.limits.length === 0) {
    limits.appendChild(
      el(
        'p',
        'jp-WorkbenchGradebook-limitsNone',
        'No task failed for a limit (memory, time, output).'
      )
    );
  } else {
    const counts = Object.entries(view.limit_counts)
      .map(([kind, n]) => `${kind}: ${n} submission${n === 1 ? '' : 's'}`)
      .join(', ');
    limits.appendChild(
      el(
        'h4',
        'jp-WorkbenchGradebook-limitsTitle',
        `Failed for a limit — ${counts}`
      )
    );
    const { table: node, body } = table('jp-WorkbenchGradebook-limitsTable', [
      'Student',
      'Task',
      'Limit',
      'Message'
    ]);
    for (const item of view.limits) {
      const row = body.insertRow();
      row.className = 'jp-WorkbenchGradebook-limit';
      row.dataset.student = item.student;
      row.dataset.kind = item.kind;
      row.insertCell().textContent = `${item.student} (#${item.submission})`;
      row.insertCell().textContent = item.task;
      const kind = row.insertCell();
      kind.textContent = item.kind;
      kind.className = `jp-WorkbenchGradebook-limitKind jp-mod-${item.kind.replace(/\W+/g, '-')}`;
      row.insertCell().textContent = item.message;
    }
    limits.appendChild(node);
  }
  section.appendChild(limits);
  return [section];
}

/** "Autograde of hello: 3 submissions queued for grading." */
function autogradeSummary(lab: string, answer: { queued: number[] }): string {
  const n = answer.queued?.length ?? 0;
  return n === 0
    ? `Autograde of ${lab}: every submission is already graded against the current source.`
    : `Autograde of ${lab}: ${n} submission${n === 1 ? '' : 's'} queued for grading.`;
}
