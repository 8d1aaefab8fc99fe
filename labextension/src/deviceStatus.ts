/**
 * Status bar item showing the device the current notebook's kernel runs on.
 */
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { IKernelDevice, WorkbenchAPI } from './api';
import { formatDuration } from './panel';

/** How often a lease's time left and queue position are re-read while shown. */
const REFRESH_INTERVAL_MS = 30_000;

/**
 * Render a device response, e.g. "CPU", "NPU 0 · 42 min left", "GPU · queued #3",
 * "NPU 0 · reclaimed", "CPU 1 · team owls: 19.5 device-h left".
 */
export function formatDevice(info: IKernelDevice): string {
  const parts = [info.device];
  const state = info.state ?? null;
  if (state === 'reclaimed' || state === 'ended') {
    parts.push(state);
  } else if (
    (info.queue_position ?? null) !== null &&
    (state === null || state === 'queued')
  ) {
    parts.push(`queued #${info.queue_position}`);
  } else if (
    (info.time_left_s ?? null) !== null &&
    (state === null || state === 'live')
  ) {
    parts.push(`${formatDuration(info.time_left_s as number)} left`);
  }
  if (info.team) {
    const hours = info.team_hours_left;
    parts.push(
      hours === null || hours === undefined
        ? `team ${info.team}`
        : `team ${info.team}: ${hours.toFixed(1)} device-h left`
    );
  }
  return parts.join(' · ');
}

/** The tooltip: the lease, and why it ended when it did. */
export function describeDevice(info: IKernelDevice): string {
  const lease = info.lease !== null ? `, lease ${info.lease}` : '';
  const head = `Workbench device of kernel ${info.kernel_id}${lease}`;
  const state = info.state ?? null;
  if (state === 'reclaimed' || state === 'ended') {
    const why = info.reason || 'no reason recorded';
    return `${head}\nThe lease was ${state}: ${why}.\nRestart the kernel to get a device again.`;
  }
  if (state === 'queued') {
    return `${head}\nWaiting for a free device, position ${info.queue_position ?? '?'} in the queue.`;
  }
  return head;
}

/**
 * The status bar widget. It follows the notebook tracker's current notebook.
 */
export class DeviceStatus extends Widget {
  constructor(
    private readonly api: WorkbenchAPI,
    private readonly tracker: INotebookTracker
  ) {
    super({ node: document.createElement('div') });
    this.addClass('jp-WorkbenchDeviceStatus');
    this._text = document.createElement('span');
    this._text.className = 'jp-WorkbenchDeviceStatus-text';
    this.node.appendChild(this._text);
    // A click re-reads the device now, without waiting for the next refresh.
    this.node.addEventListener('click', () => void this.refresh());

    tracker.currentChanged.connect(this._onCurrentChanged, this);
    this._onCurrentChanged();
    this._timer = window.setInterval(() => {
      if (this._changing) {
        void this.refresh();
      }
    }, REFRESH_INTERVAL_MS);
  }

  /** Emitted when the tracked notebook changes (the item shows only with one). */
  get activeStateChanged(): ISignal<this, void> {
    return this._activeStateChanged;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    window.clearInterval(this._timer);
    this._watch(null);
    this.tracker.currentChanged.disconnect(this._onCurrentChanged, this);
    super.dispose();
  }

  /**
   * Re-read the device of the current notebook's kernel.
   */
  async refresh(): Promise<void> {
    const kernel = this._panel?.sessionContext.session?.kernel ?? null;
    if (!kernel) {
      ++this._request;
      this._changing = false;
      this._show('No kernel', 'No kernel is running for this notebook.');
      return;
    }
    const kernelId = kernel.id;
    const request = ++this._request;
    try {
      const info = await this.api.kernelDevice(kernelId);
      if (request === this._request) {
        const state = info.state ?? null;
        this._changing =
          (state === null || state === 'live' || state === 'queued') &&
          ((info.time_left_s ?? null) !== null ||
            (info.queue_position ?? null) !== null);
        this._show(formatDevice(info), describeDevice(info), info);
      }
    } catch (error) {
      if (request === this._request) {
        const message = error instanceof Error ? error.message : String(error);
        this._show('Device unknown', message);
        this.addClass('jp-mod-error');
      }
    }
  }

  private _onCurrentChanged(): void {
    this._watch(this.tracker.currentWidget);
    this._activeStateChanged.emit();
    void this.refresh();
  }

  private _watch(panel: NotebookPanel | null): void {
    if (this._panel) {
      this._panel.sessionContext.kernelChanged.disconnect(
        this._onKernelChanged,
        this
      );
      this._panel.sessionContext.statusChanged.disconnect(
        this._onStatusChanged,
        this
      );
    }
    this._panel = panel;
    if (panel) {
      panel.sessionContext.kernelChanged.connect(this._onKernelChanged, this);
      panel.sessionContext.statusChanged.connect(this._onStatusChanged, this);
    }
  }

  private _onKernelChanged(): void {
    void this.refresh();
  }

  private _onStatusChanged(_: unknown, status: string): void {
    // A restarted or newly started kernel may get a different device.
    if (
      status === 'idle' &&
      this._lastStatus !== 'idle' &&
      this._lastStatus !== 'busy'
    ) {
      void this.refresh();
    }
    this._lastStatus = status;
  }

  private _show(text: string, title: string, info?: IKernelDevice): void {
    this.removeClass('jp-mod-error');
    this._text.textContent = text;
    this.node.title = title;
    if (info) {
      this.node.dataset.device = info.device;
      this.node.dataset.state = info.state ?? 'none';
      this.toggleClass(
        'jp-mod-ended',
        info.state === 'reclaimed' || info.state === 'ended'
      );
    } else {
      delete this.node.dataset.device;
      delete this.node.dataset.state;
      this.removeClass('jp-mod-ended');
    }
  }

  private _activeStateChanged = new Signal<this, void>(this);
  private _panel: NotebookPanel | null = null;
  private _text: HTMLElement;
  private _timer: number;
  /** Whether the last answer had a countdown or queue position to keep fresh. */
  private _changing = false;
  private _request = 0;
  private _lastStatus = '';
}
