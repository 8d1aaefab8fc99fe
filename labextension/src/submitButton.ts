/**
 * The Submit button of lab notebooks: a notebook toolbar button, shown only for
 * `<course>/<lab>.ipynb` of a registered course, that saves and submits the notebook.
 */
import { Notification, ToolbarButton } from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';

import { ICourse, WorkbenchAPI } from './api';
import { GradesAPI, ISubmission } from './gradesApi';
import { errorText } from './panel';

/** The course and lab a notebook path belongs to. */
export interface ILabRef {
  course: string;
  lab: string;
}

/** Called once a submission was stored (e.g. to show the Feedback panel). */
export type OnSubmitted = (lab: ILabRef, submitted: ISubmission) => void;

/**
 * The lab of a path `<course>/<lab>.ipynb`, or null when it is no lab's notebook.
 */
export function labOfPath(path: string, courses: ICourse[]): ILabRef | null {
  const match = /^([^/]+)\/([^/]+)\.ipynb$/.exec(path);
  if (!match) {
    return null;
  }
  const [, courseId, labId] = match;
  const course = courses.find(c => c.id === courseId);
  if (!course || !course.labs.some(l => l.id === labId)) {
    return null;
  }
  return { course: courseId, lab: labId };
}

/**
 * Adds the Submit button to every notebook that is a lab of a registered course.
 */
export class SubmitButtonExtension implements DocumentRegistry.IWidgetExtension<
  NotebookPanel,
  INotebookModel
> {
  constructor(
    private readonly api: WorkbenchAPI,
    private readonly onSubmitted: OnSubmitted
  ) {}

  createNew(
    panel: NotebookPanel,
    context: DocumentRegistry.IContext<INotebookModel>
  ): void {
    // The toolbar disposes the button with the notebook.
    void this._labOf(context.path).then(lab => {
      if (!lab || panel.isDisposed) {
        return;
      }
      const button: ToolbarButton = new ToolbarButton({
        className: 'jp-WorkbenchSubmit',
        label: 'Submit',
        tooltip: `Save and submit ${lab.lab} of ${lab.course} for grading`,
        onClick: () => void this._submit(context, lab, button)
      });
      if (!panel.toolbar.insertBefore('spacer', 'workbench-submit', button)) {
        panel.toolbar.addItem('workbench-submit', button);
      }
    });
  }

  private async _submit(
    context: DocumentRegistry.IContext<INotebookModel>,
    lab: ILabRef,
    button: ToolbarButton
  ): Promise<void> {
    if (!button.enabled) {
      return;
    }
    button.addClass('jp-mod-submitting');
    button.enabled = false;
    try {
      await context.save();
      const submitted = await new GradesAPI(this.api).submit(
        lab.course,
        lab.lab
      );
      Notification.success(`Submitted ${lab.lab} — grading…`, {
        autoClose: 5000
      });
      this.onSubmitted(lab, submitted);
    } catch (error) {
      Notification.error(`Could not submit ${lab.lab}: ${errorText(error)}`, {
        autoClose: false
      });
    } finally {
      button.removeClass('jp-mod-submitting');
      button.enabled = true;
    }
  }

  /** Courses are read once; a failed read is retried on the next notebook. */
  private async _labOf(path: string): Promise<ILabRef | null> {
    if (!this._courses) {
      this._courses = this.api.courses().catch(() => {
        this._courses = null;
        return [];
      });
    }
    return labOfPath(path, await this._courses);
  }

  private _courses: Promise<ICourse[]> | null = null;
}
