/**
 * The Courses side panel: lists courses and their labs, opens a lab on click.
 */
import { refreshIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { ICourse, ILab, IOpenedLab, WorkbenchAPI } from './api';

/** Opens a lab's notebook once the server has copied it (docmanager:open). */
export type OpenPath = (path: string) => Promise<unknown>;

const EMPTY_MESSAGE =
  'No courses yet — an instructor adds one with `workbench course add PATH`';

/**
 * A panel listing the courses visible to the user.
 */
export class CoursesPanel extends Widget {
  constructor(
    private readonly api: WorkbenchAPI,
    private readonly openPath: OpenPath
  ) {
    super();
    this.addClass('jp-WorkbenchCourses');

    const header = document.createElement('div');
    header.className = 'jp-WorkbenchCourses-header';
    const title = document.createElement('h2');
    title.className = 'jp-WorkbenchCourses-title';
    title.textContent = 'Courses';
    this._refreshButton = document.createElement('button');
    this._refreshButton.className =
      'jp-WorkbenchCourses-refresh jp-Button jp-mod-minimal';
    this._refreshButton.title = 'Refresh the course list';
    this._refreshButton.setAttribute('aria-label', 'Refresh courses');
    this._refreshButton.appendChild(refreshIcon.element({ tag: 'span' }));
    this._refreshButton.addEventListener('click', () => void this.refresh());
    this._actions = document.createElement('div');
    this._actions.className = 'jp-WorkbenchCourses-actions';
    header.append(title, this._refreshButton);

    this._user = document.createElement('div');
    this._user.className = 'jp-WorkbenchCourses-user';
    this._message = document.createElement('div');
    this._message.className = 'jp-WorkbenchCourses-message';
    this._list = document.createElement('ul');
    this._list.className = 'jp-WorkbenchCourses-list';

    this.node.append(
      header,
      this._user,
      this._actions,
      this._message,
      this._list
    );
  }

  /**
   * Add a button under the header, e.g. the instructor's "Devices" and "Gradebook".
   */
  addAction(label: string, title: string, onClick: () => void): void {
    const button = document.createElement('button');
    button.className = 'jp-WorkbenchCourses-action jp-Button';
    button.textContent = label;
    button.title = title;
    button.addEventListener('click', onClick);
    this._actions.appendChild(button);
  }

  /**
   * Reload the course list from the server.
   */
  async refresh(): Promise<void> {
    if (this._loading) {
      return this._loading;
    }
    this._loading = this._load().finally(() => {
      this._loading = null;
      this.removeClass('jp-mod-loading');
      this._refreshButton.disabled = false;
    });
    return this._loading;
  }

  private async _load(): Promise<void> {
    this.addClass('jp-mod-loading');
    this._refreshButton.disabled = true;
    this._showInfo('Loading courses…');
    void this._loadUser();
    let courses: ICourse[];
    try {
      courses = await this.api.courses();
    } catch (error) {
      this._list.replaceChildren();
      this._showError(error);
      return;
    }
    this._list.replaceChildren(...courses.map(c => this._renderCourse(c)));
    if (courses.length === 0) {
      this._showInfo(EMPTY_MESSAGE, 'jp-WorkbenchCourses-empty');
    } else {
      this._showInfo('');
    }
  }

  private async _loadUser(): Promise<void> {
    try {
      const me = await this.api.me();
      this._user.textContent =
        me.role === 'instructor' ? 'Instructor' : 'Student';
      this._user.title = `Signed in as ${me.user}`;
      this._user.dataset.role = me.role;
    } catch {
      this._user.textContent = '';
    }
  }

  private _renderCourse(course: ICourse): HTMLElement {
    const item = document.createElement('li');
    item.className = 'jp-WorkbenchCourses-course';
    item.dataset.courseId = course.id;

    const title = document.createElement('div');
    title.className = 'jp-WorkbenchCourses-courseTitle';
    title.textContent = course.title || course.id;
    title.title = course.id;
    item.appendChild(title);

    if (course.description) {
      const description = document.createElement('div');
      description.className = 'jp-WorkbenchCourses-courseDescription';
      description.textContent = course.description;
      item.appendChild(description);
    }

    const labs = document.createElement('ul');
    labs.className = 'jp-WorkbenchCourses-labs';
    if (course.labs.length === 0) {
      const none = document.createElement('li');
      none.className = 'jp-WorkbenchCourses-noLabs';
      none.textContent = 'No labs in this course yet.';
      labs.appendChild(none);
    }
    for (const lab of course.labs) {
      labs.appendChild(this._renderLab(course, lab));
    }
    item.appendChild(labs);
    return item;
  }

  private _renderLab(course: ICourse, lab: ILab): HTMLElement {
    const item = document.createElement('li');
    item.className = 'jp-WorkbenchCourses-lab';
    item.dataset.courseId = course.id;
    item.dataset.labId = lab.id;
    item.tabIndex = 0;
    item.setAttribute('role', 'button');
    item.title = `Open ${lab.title || lab.id}`;

    const title = document.createElement('div');
    title.className = 'jp-WorkbenchCourses-labTitle';
    title.textContent = lab.title || lab.id;

    const meta = document.createElement('div');
    meta.className = 'jp-WorkbenchCourses-labMeta';
    meta.append(
      chip(
        'jp-WorkbenchCourses-points',
        `${lab.points} pt${lab.points === 1 ? '' : 's'}`
      ),
      deviceChip(lab),
      dueChip(lab.due)
    );

    item.append(title, meta);
    const open = () => void this._openLab(course, lab, item);
    item.addEventListener('click', open);
    item.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        open();
      }
    });
    return item;
  }

  private async _openLab(
    course: ICourse,
    lab: ILab,
    item: HTMLElement
  ): Promise<void> {
    if (item.classList.contains('jp-mod-opening')) {
      return;
    }
    item.classList.add('jp-mod-opening');
    this._showInfo(`Opening ${lab.title || lab.id}…`);
    let opened: IOpenedLab;
    try {
      opened = await this.api.openLab(course.id, lab.id);
      await this.openPath(opened.path);
      this._showInfo('');
    } catch (error) {
      this._showError(error);
    } finally {
      item.classList.remove('jp-mod-opening');
    }
  }

  private _showInfo(text: string, extraClass?: string): void {
    this._message.className = 'jp-WorkbenchCourses-message';
    this._message.removeAttribute('role');
    if (extraClass) {
      this._message.classList.add(extraClass);
    }
    this._message.textContent = text;
  }

  private _showError(error: unknown): void {
    this._message.className =
      'jp-WorkbenchCourses-message jp-WorkbenchCourses-error';
    this._message.setAttribute('role', 'alert');
    this._message.textContent =
      error instanceof Error
        ? error.message
        : `Unexpected error: ${String(error)}`;
  }

  private _refreshButton: HTMLButtonElement;
  private _user: HTMLElement;
  private _actions: HTMLElement;
  private _message: HTMLElement;
  private _list: HTMLUListElement;
  private _loading: Promise<void> | null = null;
}

function chip(className: string, text: string): HTMLElement {
  const span = document.createElement('span');
  span.className = `jp-WorkbenchCourses-chip ${className}`;
  span.textContent = text;
  return span;
}

function deviceChip(lab: ILab): HTMLElement {
  const kind = (lab.device?.kind ?? 'cpu').toUpperCase();
  const count = lab.device?.count ?? 1;
  const span = chip(
    'jp-WorkbenchCourses-device',
    count > 1 ? `${kind} ×${count}` : kind
  );
  span.title = `Runs on ${count} ${kind} device${count === 1 ? '' : 's'}`;
  return span;
}

function dueChip(due: string | null): HTMLElement {
  if (!due) {
    return chip('jp-WorkbenchCourses-due', 'no due date');
  }
  const date = new Date(due);
  if (isNaN(date.getTime())) {
    return chip('jp-WorkbenchCourses-due', `due ${due}`);
  }
  const span = chip(
    'jp-WorkbenchCourses-due',
    `due ${date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}`
  );
  span.title = date.toISOString();
  if (date.getTime() < Date.now()) {
    span.classList.add('jp-mod-overdue');
  }
  return span;
}
