/**
 * "Submit predictions" and "Submit notebook" in an event's notebook (one whose metadata names a
 * workbench event, as the starter opened from the Leaderboard does). Predictions are the
 * `predictions.csv` beside the notebook, as the starter writes it; the notebook is the saved file.
 * Both are read through this Jupyter server's contents API and sent as bytes, so they work the
 * same on a personal server and under the hub (where the service never reads the user's files).
 */
import { Notification, ToolbarButton } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { Contents } from '@jupyterlab/services';

import { EventsAPI } from './eventsApi';
import { errorText } from './panel';

export const PREDICTIONS_FILE = 'predictions.csv';

/** The event a notebook belongs to, from `metadata.workbench.event`. */
export function eventOf(model: INotebookModel | null): string | null {
  const meta = model?.getMetadata('workbench') as
    { event?: unknown } | undefined;
  return typeof meta?.event === 'string' && meta.event ? meta.event : null;
}

/** UTF-8 text to base64 (a notebook's JSON), safe for any character. */
function textToBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return btoa(binary);
}

export class EventSubmitExtension implements DocumentRegistry.IWidgetExtension<
  NotebookPanel,
  INotebookModel
> {
  constructor(
    private readonly events: EventsAPI,
    private readonly contents: Contents.IManager,
    private readonly onSubmitted: (event: string) => void
  ) {}

  createNew(
    panel: NotebookPanel,
    context: DocumentRegistry.IContext<INotebookModel>
  ): void {
    void context.ready.then(() => {
      const event = eventOf(context.model);
      if (!event || panel.isDisposed) {
        return;
      }
      const buttons: [string, string, 'predictions' | 'notebook'][] = [
        [
          'Submit predictions',
          `Submit ${PREDICTIONS_FILE} beside this notebook to ${event}`,
          'predictions'
        ],
        [
          'Submit notebook',
          `Save and submit this notebook to ${event}: it runs in a sandbox against the hidden inputs`,
          'notebook'
        ]
      ];
      for (const [label, tooltip, kind] of buttons) {
        const button: ToolbarButton = new ToolbarButton({
          className: `jp-WorkbenchEventSubmit jp-mod-${kind}`,
          label,
          tooltip,
          onClick: () => void this._submit(context, event, kind, button)
        });
        const name = `workbench-event-${kind}`;
        if (!panel.toolbar.insertBefore('spacer', name, button)) {
          panel.toolbar.addItem(name, button);
        }
      }
    });
  }

  private async _submit(
    context: DocumentRegistry.IContext<INotebookModel>,
    event: string,
    kind: 'predictions' | 'notebook',
    button: ToolbarButton
  ): Promise<void> {
    if (!button.enabled) {
      return;
    }
    button.enabled = false;
    try {
      let content: string;
      if (kind === 'notebook') {
        await context.save();
        const model = await this.contents.get(context.path, {
          type: 'file',
          format: 'text',
          content: true
        });
        content = textToBase64(String(model.content));
      } else {
        const path = PathExt.join(
          PathExt.dirname(context.path),
          PREDICTIONS_FILE
        );
        const model = await this.contents
          .get(path, { type: 'file', format: 'base64', content: true })
          .catch(() => {
            throw new Error(
              `${path} is not there yet: run the notebook so that it writes ${PREDICTIONS_FILE}`
            );
          });
        content = String(model.content).replace(/\s/g, '');
      }
      const sub = await this.events.submit(event, kind, content);
      Notification.success(
        `Submission ${sub.id} to ${event} received — scoring…`,
        { autoClose: 5000 }
      );
      this.onSubmitted(event);
    } catch (error) {
      Notification.error(`Could not submit to ${event}: ${errorText(error)}`, {
        autoClose: false
      });
    } finally {
      button.enabled = true;
    }
  }
}
