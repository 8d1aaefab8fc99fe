/**
 * The student's Feedback panel: their submissions, newest first, with the score and the
 * points, status and message of every task. It re-reads while a submission is being graded.
 */
import { WorkbenchAPI } from './api';
import { GradesAPI, ISubmission, ITaskGrade } from './gradesApi';
import { el, formatPoints, table, WorkbenchPanel } from './panel';

/** How often the panel re-reads while a submission waits for its grade. */
const POLL_INTERVAL_MS = 2_000;
/** Statuses after which a submission's grade no longer changes by itself. */
const FINAL = new Set(['graded', 'failed']);

/**
 * A side panel listing the user's own submissions and their grades.
 */
export class FeedbackPanel extends WorkbenchPanel {
  constructor(private readonly api: WorkbenchAPI) {
    super('Feedback', 'jp-WorkbenchFeedback');
    this.title.caption = 'Workbench feedback on your submissions';
    this._grades = new GradesAPI(api);
  }

  dispose(): void {
    window.clearTimeout(this._poll);
    super.dispose();
  }

  protected async load(): Promise<void> {
    window.clearTimeout(this._poll);
    if (this.body.childElementCount === 0) {
      this.showInfo('Loading your submissions…');
    }
    const courses = await this.api.courses();
    const lists = await Promise.all(
      courses.map(c => this._grades.submissions(c.id))
    );
    const submissions = ([] as ISubmission[]).concat(...lists);
    submissions.sort((a, b) => b.submitted.localeCompare(a.submitted));
    this.body.replaceChildren(...submissions.map(s => this._render(s)));
    if (submissions.length === 0) {
      this.showInfo(
        'No submissions yet — open a lab from the Courses panel and press Submit in its toolbar.'
      );
    } else {
      this.showInfo('');
    }
    if (submissions.some(s => !FINAL.has(s.status)) && !this.isDisposed) {
      this._poll = window.setTimeout(
        () => void this.refresh(),
        POLL_INTERVAL_MS
      );
    }
  }

  private _render(submission: ISubmission): HTMLElement {
    const card = el('section', 'jp-WorkbenchFeedback-submission');
    card.dataset.submission = String(submission.id);
    card.dataset.lab = `${submission.course}/${submission.lab}`;
    card.dataset.status = submission.status;

    const head = el('div', 'jp-WorkbenchFeedback-head');
    const title = el(
      'div',
      'jp-WorkbenchFeedback-lab',
      `${submission.course} / ${submission.lab}`
    );
    const score = el('div', 'jp-WorkbenchFeedback-score');
    if (submission.status === 'graded') {
      score.textContent = `${formatPoints(submission.score)} / ${formatPoints(submission.max_score)}`;
    } else {
      score.textContent =
        submission.status === 'failed' ? 'not graded' : 'grading…';
      score.classList.add(
        submission.status === 'failed' ? 'jp-mod-failed' : 'jp-mod-pending'
      );
    }
    head.append(title, score);

    const when = new Date(submission.submitted);
    const meta = el(
      'div',
      'jp-WorkbenchFeedback-meta',
      `#${submission.id} · submitted ${isNaN(when.getTime()) ? submission.submitted : when.toLocaleString()}`
    );
    card.append(head, meta);

    if ((submission.penalty ?? 0) > 0) {
      card.appendChild(
        el(
          'div',
          'jp-WorkbenchFeedback-note',
          `Late: ${Math.round((submission.penalty ?? 0) * 100)} % taken off ` +
            `(raw score ${formatPoints(submission.raw_score)}).`
        )
      );
    }
    if (submission.needs_manual) {
      card.appendChild(
        el(
          'div',
          'jp-WorkbenchFeedback-note',
          'Some tasks are graded by hand; their points follow.'
        )
      );
    }
    if (submission.status === 'failed' && submission.message) {
      card.appendChild(
        el('div', 'jp-WorkbenchFeedback-failure', submission.message)
      );
    }
    if (submission.tasks.length > 0) {
      card.appendChild(this._renderTasks(submission.tasks));
    }
    if (submission.status === 'graded') {
      const link = el('a', 'jp-WorkbenchFeedback-link', 'Full feedback ↗');
      link.href = this._grades.feedbackUrl(submission.id);
      link.target = '_blank';
      link.rel = 'noopener';
      link.title = 'Open the feedback page: points, messages and your outputs';
      card.appendChild(link);
    }
    return card;
  }

  private _renderTasks(tasks: ITaskGrade[]): HTMLElement {
    const { table: node, body } = table('jp-WorkbenchFeedback-tasks', [
      'Task',
      'Points',
      'Status'
    ]);
    for (const task of tasks) {
      const row = body.insertRow();
      row.dataset.task = task.id;
      row.insertCell().append(...breakable(task.id));
      row.insertCell().textContent = `${formatPoints(task.points)} / ${formatPoints(task.max_points)}`;
      const status = row.insertCell();
      status.textContent = task.status;
      status.className = `jp-WorkbenchFeedback-status jp-mod-${task.status}`;
      const notes = [task.message, task.comment].filter(Boolean).join(' — ');
      if (notes) {
        const message = body.insertRow();
        message.className = 'jp-WorkbenchFeedback-messageRow';
        const cell = message.insertCell();
        cell.colSpan = 3;
        cell.className = 'jp-WorkbenchFeedback-message';
        cell.textContent = notes;
      }
    }
    return node;
  }

  private readonly _grades: GradesAPI;
  private _poll = 0;
}

/** Text nodes of a task id with line-break opportunities after each "_". */
function breakable(id: string): Node[] {
  const nodes: Node[] = [];
  id.split(/(?<=_)/).forEach((part, i) => {
    if (i > 0) {
      nodes.push(document.createElement('wbr'));
    }
    nodes.push(document.createTextNode(part));
  });
  return nodes;
}
