/**
 * The instructor's Devices panel: who holds which devices, the inventory, usage per holder,
 * and a Release button per lease.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';

import { IDevices, ISession, IUsage, WorkbenchAPI } from './api';
import {
  el,
  errorText,
  formatDuration,
  table,
  textButton,
  WorkbenchPanel
} from './panel';

/**
 * A main-area panel listing every open lease with the inventory and usage below.
 */
export class DevicesPanel extends WorkbenchPanel {
  constructor(private readonly api: WorkbenchAPI) {
    super('Devices', 'jp-WorkbenchDevices');
    this.title.label = 'Devices';
    this.title.caption = 'Workbench devices and leases';
  }

  protected async load(): Promise<void> {
    this.showInfo('Loading devices and leases…');
    const problems: string[] = [];
    const [sessions, devices] = await Promise.all([
      this.api.sessions().catch(error => {
        problems.push(`Leases: ${errorText(error)}`);
        return null;
      }),
      this.api.devices().catch(error => {
        problems.push(`Inventory: ${errorText(error)}`);
        return null;
      })
    ]);
    const holders = new Map<number, string>();
    for (const s of sessions ?? []) {
      holders.set(s.lease, s.holder);
    }
    this.body.replaceChildren(
      ...(sessions ? this._renderSessions(sessions) : []),
      ...(devices ? this._renderInventory(devices, holders) : []),
      ...(devices ? this._renderUsage(devices.usage ?? []) : [])
    );
    if (problems.length > 0) {
      this.showError(new Error(problems.join('\n')));
    } else {
      this.showInfo('');
    }
  }

  private _renderSessions(sessions: ISession[]): HTMLElement[] {
    const heading = el('h3', 'jp-WorkbenchPanel-section', 'Leases');
    if (sessions.length === 0) {
      return [
        heading,
        el(
          'p',
          'jp-WorkbenchPanel-empty',
          'Nobody holds or waits for a device right now.'
        )
      ];
    }
    const { table: node, body } = table('jp-WorkbenchDevices-leases', [
      'Lease',
      'Holder',
      'Devices',
      'State',
      'Time left',
      'Course',
      ''
    ]);
    for (const session of sessions) {
      const row = body.insertRow();
      row.className = 'jp-WorkbenchDevices-lease';
      row.dataset.lease = String(session.lease);
      row.dataset.holder = session.holder;
      const devices =
        session.devices.length > 0
          ? session.devices.map(d => `${d.kind.toUpperCase()} ${d.id}`)
          : [`${session.kind.toUpperCase()} (none yet)`];
      const state =
        session.state === 'queued' && session.queue_position
          ? `queued #${session.queue_position}`
          : session.state;
      const cells = [
        `#${session.lease}`,
        session.holder,
        devices.join(', '),
        state,
        timeLeft(session),
        session.course ?? '–'
      ];
      for (const text of cells) {
        row.insertCell().textContent = text;
      }
      row.cells[3].className = `jp-WorkbenchDevices-state jp-mod-${session.state}`;
      if (session.kernel_id) {
        row.cells[1].title = `Kernel ${session.kernel_id}`;
      }
      const release = textButton(
        'Release',
        `End lease #${session.lease} of ${session.holder} and free its devices`,
        button => void this._release(session, button),
        'jp-WorkbenchDevices-release jp-mod-warn'
      );
      row.insertCell().appendChild(release);
    }
    return [heading, node];
  }

  private _renderInventory(
    devices: IDevices,
    holders: Map<number, string>
  ): HTMLElement[] {
    const heading = el('h3', 'jp-WorkbenchPanel-section', 'Inventory');
    if (devices.devices.length === 0) {
      return [
        heading,
        el(
          'p',
          'jp-WorkbenchPanel-empty',
          'No devices in the inventory: an admin lists them in the file that ' +
            'WORKBENCH_INVENTORY (or Workbench.inventory) names.'
        )
      ];
    }
    const { table: node, body } = table('jp-WorkbenchDevices-inventory', [
      'Device',
      'Model',
      'Health',
      'Held by'
    ]);
    for (const device of devices.devices) {
      const row = body.insertRow();
      row.dataset.device = `${device.kind}:${device.id}`;
      const holder =
        device.lease === null
          ? 'free'
          : `${holders.get(device.lease) ?? '?'} (lease #${device.lease})`;
      for (const text of [
        `${device.kind.toUpperCase()} ${device.id}`,
        device.model || '–',
        device.health,
        holder
      ]) {
        row.insertCell().textContent = text;
      }
      if (device.lease === null) {
        row.cells[3].className = 'jp-WorkbenchDevices-free';
      }
    }
    return [heading, node];
  }

  private _renderUsage(usage: IUsage[]): HTMLElement[] {
    const heading = el('h3', 'jp-WorkbenchPanel-section', 'Usage per holder');
    if (usage.length === 0) {
      return [
        heading,
        el('p', 'jp-WorkbenchPanel-empty', 'No device has been used yet.')
      ];
    }
    const { table: node, body } = table('jp-WorkbenchDevices-usage', [
      'Holder',
      'Kind',
      'Device time',
      'Leases'
    ]);
    for (const entry of usage) {
      const row = body.insertRow();
      row.dataset.holder = entry.holder;
      for (const text of [
        entry.holder,
        entry.kind.toUpperCase(),
        formatDuration(entry.device_seconds),
        String(entry.leases)
      ]) {
        row.insertCell().textContent = text;
      }
    }
    return [heading, node];
  }

  private async _release(
    session: ISession,
    button: HTMLButtonElement
  ): Promise<void> {
    const answer = await showDialog({
      title: `Release lease #${session.lease}?`,
      body:
        `${session.holder} loses ${session.kind.toUpperCase()} ` +
        `${session.devices.map(d => d.id).join(', ') || '(queued)'}; ` +
        'a kernel using it stops getting a device.',
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Release' })]
    });
    if (!answer.button.accept) {
      return;
    }
    button.disabled = true;
    try {
      await this.api.releaseSession(session.lease);
    } catch (error) {
      button.disabled = false;
      this.showError(error);
      return;
    }
    await this.refresh();
    this.showInfo(`Lease #${session.lease} of ${session.holder} released.`);
  }
}

function timeLeft(session: ISession): string {
  if (session.state !== 'live' || session.time_left_s === null) {
    return '–';
  }
  return formatDuration(session.time_left_s);
}
