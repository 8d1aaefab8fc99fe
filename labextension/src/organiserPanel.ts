/**
 * The organiser's view of an event: teams and members, every submission with its status and
 * reason (failed ones do not count against a team's limits, and say why they failed), the
 * finalize button, the exports (final board, every submission's record), and each team's use of its
 * device quota.
 */
import { WorkbenchAPI } from './api';
import {
  EventsAPI,
  formatScore,
  IEvent,
  IEventSubmission,
  ITeam
} from './eventsApi';
import { el, table, textButton, WorkbenchPanel } from './panel';

export class OrganiserPanel extends WorkbenchPanel {
  constructor(
    api: WorkbenchAPI,
    private readonly eventId: string,
    private readonly onFinalized: () => void
  ) {
    super('Event organiser', 'jp-WorkbenchOrganiser');
    this.events = new EventsAPI(api);
    this.title.label = `Organiser: ${eventId}`;
    this.title.caption = `Teams, submissions, finalize and exports of ${eventId}`;
    this._finalize = textButton(
      'Finalize',
      'Pick each team’s final entries by the event’s rule and reveal the private board (after the window)',
      () => void this._runFinalize(),
      'jp-WorkbenchOrganiser-finalize jp-mod-accept'
    );
    this.tools.prepend(this._finalize);
  }

  readonly events: EventsAPI;

  protected async load(): Promise<void> {
    const [event, teams, subs] = await Promise.all([
      this.events.event(this.eventId),
      this.events.teams(this.eventId),
      this.events.submissions(this.eventId)
    ]);
    const closed = new Date() >= new Date(event.closes);
    this._finalize.disabled = event.finalized || !closed;
    this._finalize.title = event.finalized
      ? 'Finalized: the private board is revealed'
      : closed
        ? 'Pick final entries and reveal the private board'
        : `The event runs until ${new Date(event.closes).toLocaleString()}; finalize after it closes`;
    this.body.replaceChildren(
      this._exports(event),
      el('h3', '', `Teams (${teams.length})`),
      renderTeams(teams, event),
      el('h3', '', `Submissions (${subs.length})`),
      renderSubmissions(subs)
    );
    const failed = subs.filter(s => s.status === 'failed').length;
    const waiting = subs.filter(
      s => s.status === 'queued' || s.status === 'running'
    ).length;
    this.showInfo(
      `${event.title}: ${teams.length} team(s), ${subs.length} submission(s), ${waiting} waiting, ` +
        `${failed} failed (not counted against limits).`
    );
  }

  private _exports(event: IEvent): HTMLElement {
    const links = el('div', 'jp-WorkbenchOrganiser-exports');
    const exports: ['board.csv' | 'submissions.csv', string, boolean][] = [
      ['submissions.csv', 'Every submission’s record (CSV)', true],
      ['board.csv', 'Final board (CSV)', event.finalized]
    ];
    for (const [what, label, ready] of exports) {
      if (!ready) {
        links.appendChild(
          el(
            'span',
            'jp-WorkbenchOrganiser-pending',
            `${label}: after finalize`
          )
        );
        continue;
      }
      const link = el('a', 'jp-WorkbenchOrganiser-export', label);
      link.href = this.events.exportUrl(event.id, what);
      link.target = '_blank';
      link.rel = 'noopener';
      links.appendChild(link);
    }
    return links;
  }

  private async _runFinalize(): Promise<void> {
    this._finalize.disabled = true;
    try {
      await this.events.finalize(this.eventId);
      this.onFinalized();
      await this.refresh();
    } catch (error) {
      this.showError(error);
      this._finalize.disabled = false;
    }
  }

  private readonly _finalize: HTMLButtonElement;
}

/** "1.25 of 20 h": a team's use of the event's device quota, as its kernels' leases count it. */
function deviceHours(team: ITeam): string {
  const hours = team.device_hours;
  if (!hours) {
    return '–';
  }
  const limit = hours.limit === null ? '' : ` of ${hours.limit} h`;
  return `${hours.used.toFixed(2)}${limit || ' h'}`;
}

function renderTeams(teams: ITeam[], event: IEvent): HTMLElement {
  const { table: node, body } = table('jp-WorkbenchOrganiser-teams', [
    'Team',
    'Members',
    'Counted submissions',
    'Left of total',
    'Device-hours used'
  ]);
  for (const team of teams) {
    const tr = body.insertRow();
    tr.append(
      el(
        'td',
        '',
        team.merged_into ? `${team.name} → ${team.merged_into}` : team.name
      ),
      el('td', '', team.members.join(', ')),
      el('td', '', String(team.submissions)),
      el('td', '', String(Math.max(0, event.limits.total - team.submissions))),
      el('td', 'jp-WorkbenchOrganiser-hours', deviceHours(team))
    );
  }
  return node;
}

function renderSubmissions(subs: IEventSubmission[]): HTMLElement {
  const { table: node, body } = table('jp-WorkbenchOrganiser-submissions', [
    '#',
    'Team',
    'Member',
    'Kind',
    'Phase',
    'Submitted',
    'Status',
    'Public',
    'Private',
    'Final',
    'Reason'
  ]);
  for (const sub of subs) {
    const tr = body.insertRow();
    tr.append(
      el('td', '', String(sub.id)),
      el('td', '', sub.team),
      el('td', '', sub.member),
      el('td', '', sub.kind),
      el('td', '', sub.phase),
      el('td', '', new Date(sub.created).toLocaleString()),
      el('td', `jp-mod-${sub.status}`, sub.status),
      el('td', '', formatScore(sub.public_score)),
      el('td', '', formatScore(sub.private_score)),
      el('td', '', sub.final ? '✓' : ''),
      el('td', '', sub.reason)
    );
  }
  return node;
}
