/**
 * The shared frame of the workbench panels: a header with a title, tool buttons and
 * a refresh button, a message line (information or a readable error), and a body.
 */
import { refreshIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

/**
 * A panel whose content is (re)loaded from the workbench API by `load()`.
 */
export abstract class WorkbenchPanel extends Widget {
  constructor(title: string, className: string) {
    super();
    this.addClass('jp-WorkbenchPanel');
    this.addClass(className);

    this.header = document.createElement('div');
    this.header.className = 'jp-WorkbenchPanel-header';
    const heading = document.createElement('h2');
    heading.className = 'jp-WorkbenchPanel-title';
    heading.textContent = title;
    this.tools = document.createElement('div');
    this.tools.className = 'jp-WorkbenchPanel-tools';
    this._refreshButton = document.createElement('button');
    this._refreshButton.className =
      'jp-WorkbenchPanel-refresh jp-Button jp-mod-minimal';
    this._refreshButton.title = `Refresh ${title}`;
    this._refreshButton.setAttribute('aria-label', `Refresh ${title}`);
    this._refreshButton.appendChild(refreshIcon.element({ tag: 'span' }));
    this._refreshButton.addEventListener('click', () => void this.refresh());
    this.tools.appendChild(this._refreshButton);
    this.header.append(heading, this.tools);

    this.message = document.createElement('div');
    this.message.className = 'jp-WorkbenchPanel-message';
    this.body = document.createElement('div');
    this.body.className = 'jp-WorkbenchPanel-body';
    this.node.append(this.header, this.message, this.body);
  }

  /**
   * Reload the panel; concurrent calls share one load.
   */
  refresh(): Promise<void> {
    if (this._loading) {
      return this._loading;
    }
    this.addClass('jp-mod-loading');
    this._refreshButton.disabled = true;
    this._loading = this.load()
      .catch(error => this.showError(error))
      .finally(() => {
        this._loading = null;
        this.removeClass('jp-mod-loading');
        this._refreshButton.disabled = false;
      });
    return this._loading;
  }

  /** A closed panel is gone for good (its timers with it); opening it makes a new one. */
  close(): void {
    super.close();
    this.dispose();
  }

  /** Fill the body from the server; a thrown error is shown in the message line. */
  protected abstract load(): Promise<void>;

  /** Show an informative line; an empty text hides it. */
  showInfo(text: string): void {
    this.message.className = 'jp-WorkbenchPanel-message';
    this.message.removeAttribute('role');
    this.message.textContent = text;
  }

  /** Show a readable error (the server's own message when it sent one). */
  showError(error: unknown): void {
    this.message.className =
      'jp-WorkbenchPanel-message jp-WorkbenchPanel-error';
    this.message.setAttribute('role', 'alert');
    this.message.textContent = errorText(error);
  }

  protected readonly header: HTMLElement;
  protected readonly tools: HTMLElement;
  protected readonly message: HTMLElement;
  protected readonly body: HTMLElement;
  private _refreshButton: HTMLButtonElement;
  private _loading: Promise<void> | null = null;
}

/** The message of an error, or a description of a thrown non-error. */
export function errorText(error: unknown): string {
  return error instanceof Error
    ? error.message
    : `Unexpected error: ${String(error)}`;
}

/** A text button for a panel header or a table row. */
export function textButton(
  label: string,
  title: string,
  onClick: (button: HTMLButtonElement) => void,
  className = ''
): HTMLButtonElement {
  const button = document.createElement('button');
  button.className = `jp-WorkbenchPanel-button jp-Button ${className}`.trim();
  button.textContent = label;
  button.title = title;
  button.addEventListener('click', () => onClick(button));
  return button;
}

/** An element with a class name and optional text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** A table with a header row; returns the table and its body. */
export function table(
  className: string,
  headings: string[]
): { table: HTMLTableElement; body: HTMLTableSectionElement } {
  const node = el('table', `jp-WorkbenchPanel-table ${className}`);
  const head = node.createTHead().insertRow();
  for (const heading of headings) {
    head.appendChild(el('th', '', heading));
  }
  const body = node.createTBody();
  return { table: node, body };
}

/** "42 s", "42 min", "1 h 5 min". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s} s`;
  }
  const minutes = Math.floor(s / 60);
  if (minutes < 60) {
    return `${minutes} min`;
  }
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A point count without needless decimals: 3, 2.5, 0.33. */
export function formatPoints(points: number | null | undefined): string {
  if (points === null || points === undefined || isNaN(points)) {
    return '–';
  }
  return String(Math.round(points * 100) / 100);
}
