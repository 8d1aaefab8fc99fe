/**
 * The Leaderboard of a hackathon event: the public board of a phase, live while submissions are
 * scored; after finalize the private board with each team's shake-up (▲ climbed, ▼ fell).
 * Participants also see their team (or create / join one), its submissions with status and
 * reason, and open the starter notebook; organisers get a button to their view.
 */
import { WorkbenchAPI } from './api';
import {
  currentPhase,
  EventsAPI,
  formatScore,
  IBoard,
  IBoardRow,
  IEvent,
  IEventSubmission
} from './eventsApi';
import { el, table, textButton, WorkbenchPanel } from './panel';

/** How often the board is re-read while the event runs (a "live" board without a socket). */
const POLL_INTERVAL_MS = 10_000;

export class LeaderboardPanel extends WorkbenchPanel {
  constructor(
    api: WorkbenchAPI,
    private readonly openPath: (path: string) => Promise<unknown>,
    private readonly openOrganiser: (event: string) => void
  ) {
    super('Leaderboard', 'jp-WorkbenchLeaderboard');
    this.events = new EventsAPI(api);
    this.title.label = 'Leaderboard';
    this.title.caption = 'Hackathon leaderboard';
    this._event = this._select('Event', () => {
      this._phase.replaceChildren();
      void this.reload();
    });
    this._phase = this._select('Phase', () => void this.reload());
    this._private = el('label', 'jp-WorkbenchLeaderboard-private');
    this._privateBox = el('input');
    this._privateBox.type = 'checkbox';
    this._privateBox.addEventListener('change', () => void this.reload());
    this._private.append(this._privateBox, ' Private board');
    this._open = textButton(
      'Open starter',
      'Copy the starter notebook and the public data into events/<event>/ of your space',
      () => void this._openStarter()
    );
    this._organiser = textButton(
      'Organiser view',
      'Teams, every submission with status and reason, finalize and exports',
      () => this.openOrganiser(this._event.value)
    );
    this.tools.prepend(
      this._event,
      this._phase,
      this._private,
      this._open,
      this._organiser
    );
  }

  readonly events: EventsAPI;

  dispose(): void {
    window.clearTimeout(this._poll);
    super.dispose();
  }

  protected async load(): Promise<void> {
    window.clearTimeout(this._poll);
    if (this._event.options.length === 0) {
      const all = await this.events.events();
      for (const event of all) {
        this._event.appendChild(new Option(event.title, event.id));
      }
    }
    const id = this._event.value;
    if (!id) {
      this.body.replaceChildren();
      this.showInfo(
        'No events yet — an organiser registers one with `workbench event create DIR`.'
      );
      return;
    }
    const event = await this.events.event(id);
    this._fillPhases(event);
    this._privateBox.disabled = !event.finalized;
    this._private.title = event.finalized
      ? 'The private board: each team’s final entries scored on the private split'
      : `Revealed at finalize, after the event closes (${when(event.closes)})`;
    this._organiser.hidden = !event.me?.organiser;
    this._open.hidden = !event.me || event.me.organiser;
    const showPrivate = event.finalized && this._privateBox.checked;
    const [board, own] = await Promise.all([
      this.events.board(id, this._phase.value, showPrivate),
      event.me?.team && !event.me.organiser
        ? this.events.submissions(id)
        : Promise.resolve([] as IEventSubmission[])
    ]);
    const team = event.me?.team ?? null;
    this.body.replaceChildren(
      this._teamSection(event),
      renderBoard(board, showPrivate, team),
      ...(team && !event.me?.organiser ? [this._renderOwn(event, own)] : [])
    );
    this.showInfo(describe(event, board, showPrivate));
    if (!event.finalized && new Date() < new Date(event.closes)) {
      this._poll = window.setTimeout(
        () => void this.refresh(),
        POLL_INTERVAL_MS
      );
    }
  }

  private _select(label: string, onChange: () => void): HTMLSelectElement {
    const select = el('select', 'jp-mod-styled');
    select.title = label;
    select.setAttribute('aria-label', label);
    select.addEventListener('change', onChange);
    return select;
  }

  private _fillPhases(event: IEvent): void {
    if (this._phase.options.length === event.phases.length) {
      return;
    }
    const now = currentPhase(event);
    this._phase.replaceChildren(
      ...event.phases.map(
        p => new Option(p.title, p.id, false, p.id === now?.id)
      )
    );
  }

  /** Your team, or the forms to create or join one (self-registration events). The same node is
   * kept while nothing changed, so the live board's polling never clears what is being typed. */
  private _teamSection(event: IEvent): HTMLElement {
    const key = `${event.id}\n${event.me?.team ?? ''}\n${event.me?.organiser ?? ''}`;
    if (this._team && this._team.key === key) {
      return this._team.node;
    }
    const section = el('div', 'jp-WorkbenchLeaderboard-team');
    this._team = { key, node: section };
    const me = event.me;
    if (!me || me.organiser) {
      return section;
    }
    if (me.team) {
      section.textContent = `You are in team “${me.team}”.`;
      return section;
    }
    if (event.teams.mode !== 'self') {
      section.textContent =
        'You are in no team of this event; its organisers declare the teams.';
      return section;
    }
    const name = el('input', 'jp-mod-styled jp-WorkbenchLeaderboard-teamId');
    name.placeholder = 'team id (letters, digits, - or _)';
    name.setAttribute('aria-label', 'Team id');
    const act = (join: boolean) => async () => {
      try {
        await (join
          ? this.events.joinTeam(event.id, name.value.trim())
          : this.events.createTeam(
              event.id,
              name.value.trim(),
              name.value.trim()
            ));
        await this.reload();
      } catch (error) {
        this.showError(error);
      }
    };
    section.append(
      el('span', '', `Teams of up to ${event.teams.max_size}: `),
      name,
      textButton(
        'Create team',
        'Create this team with you in it',
        () => void act(false)()
      ),
      textButton('Join team', 'Join this existing team', () => void act(true)())
    );
    return section;
  }

  /** Load after a change (a choice, a new team): a load already in flight may predate it. */
  async reload(): Promise<void> {
    await this.refresh();
    await this.refresh();
  }

  private async _openStarter(): Promise<void> {
    try {
      const opened = await this.events.open(this._event.value);
      await this.openPath(opened.path);
    } catch (error) {
      this.showError(error);
    }
  }

  /** The caller's team's submissions: what became of each and why; in an event whose rule is
   * `chosen`, a box per scored one picks the team's final entries (up to k). */
  private _renderOwn(event: IEvent, own: IEventSubmission[]): HTMLElement {
    const section = el('div', 'jp-WorkbenchLeaderboard-own');
    section.appendChild(el('h3', '', 'Your team’s submissions'));
    if (own.length === 0) {
      section.appendChild(
        el(
          'p',
          '',
          'None yet: open the starter, then use “Submit predictions” or “Submit notebook” in its toolbar.'
        )
      );
      return section;
    }
    const choosing = event.selection.rule === 'chosen' && !event.finalized;
    const { table: node, body } = table('jp-WorkbenchLeaderboard-submissions', [
      '#',
      'Kind',
      'Phase',
      'Member',
      'Submitted',
      'Status',
      'Public score',
      'Reason',
      ...(choosing ? [`Final (up to ${event.selection.k})`] : [])
    ]);
    const chosen = new Set(own.filter(s => s.chosen).map(s => s.id));
    for (const sub of own) {
      const tr = body.insertRow();
      tr.dataset.submission = String(sub.id);
      tr.append(
        el('td', '', String(sub.id)),
        el('td', '', sub.kind),
        el('td', '', sub.phase),
        el('td', '', sub.member),
        el('td', '', new Date(sub.created).toLocaleString()),
        el('td', `jp-mod-${sub.status}`, sub.status),
        el('td', '', formatScore(sub.public_score)),
        el('td', '', sub.reason)
      );
      if (choosing) {
        const cell = el('td');
        if (sub.status === 'scored') {
          const box = el('input', 'jp-WorkbenchLeaderboard-choose');
          box.type = 'checkbox';
          box.checked = chosen.has(sub.id);
          box.setAttribute('aria-label', `Final entry: submission ${sub.id}`);
          box.addEventListener('change', () => {
            const next = new Set(chosen);
            if (box.checked) {
              next.add(sub.id);
            } else {
              next.delete(sub.id);
            }
            void this.events
              .choose(event.id, [...next])
              .then(() => this.reload())
              .catch(error => {
                box.checked = !box.checked;
                this.showError(error);
              });
          });
          cell.appendChild(box);
        }
        tr.appendChild(cell);
      }
    }
    section.appendChild(node);
    return section;
  }

  private readonly _event: HTMLSelectElement;
  private readonly _phase: HTMLSelectElement;
  private readonly _private: HTMLLabelElement;
  private readonly _privateBox: HTMLInputElement;
  private readonly _open: HTMLButtonElement;
  private readonly _organiser: HTMLButtonElement;
  private _poll = 0;
  private _team: { key: string; node: HTMLElement } | null = null;
}

function when(iso: string): string {
  return new Date(iso).toLocaleString();
}

function describe(event: IEvent, board: IBoard, showPrivate: boolean): string {
  const metric = `${board.metric}${event.higher_is_better ? ' (higher is better)' : ' (lower is better)'}`;
  if (showPrivate) {
    return `Final private board of ${event.title}, ${metric}; shake-up is the change from the public rank.`;
  }
  if (board.blind) {
    return `Blind phase: teams see only how many submissions were received until ${when(event.closes)}.`;
  }
  const state = event.finalized
    ? 'finalized — tick “Private board” for the final ranking'
    : `open until ${when(event.closes)}; scored on the public split only`;
  return `${event.title}: ${metric}, ${state}.`;
}

/** The board as a table; baselines are marked, the caller's team highlighted. */
export function renderBoard(
  board: IBoard,
  showPrivate: boolean,
  team: string | null
): HTMLElement {
  if (board.blind) {
    const { table: node, body } = table('jp-WorkbenchLeaderboard-board', [
      'Team',
      'Received'
    ]);
    for (const row of board.rows) {
      const tr = body.insertRow();
      tr.append(
        el('td', '', row.name),
        el('td', '', String(row.received ?? 0))
      );
    }
    return node;
  }
  const headings = showPrivate
    ? [
        'Rank',
        'Team',
        'Private score',
        'Public score',
        'Public rank',
        'Shake-up'
      ]
    : ['Rank', 'Team', 'Score', 'Entries', 'Best submitted'];
  const { table: node, body } = table(
    'jp-WorkbenchLeaderboard-board',
    headings
  );
  for (const row of board.rows) {
    const tr = body.insertRow();
    tr.dataset.team = row.team;
    if (row.baseline) {
      tr.classList.add('jp-mod-baseline');
    }
    if (team && row.team === team && !row.baseline) {
      tr.classList.add('jp-mod-own');
    }
    const name = el('td', '', row.name);
    if (row.baseline) {
      name.append(' ', el('span', 'jp-WorkbenchLeaderboard-badge', 'baseline'));
    }
    tr.append(
      el('td', '', row.rank === null ? '' : String(row.rank)),
      name,
      el('td', '', formatScore(row.score))
    );
    if (showPrivate) {
      tr.append(
        el('td', '', formatScore(row.public_score)),
        el(
          'td',
          '',
          row.public_rank === null || row.public_rank === undefined
            ? ''
            : String(row.public_rank)
        ),
        shakeCell(row)
      );
    } else {
      tr.append(
        el('td', '', row.baseline ? '' : String(row.entries ?? 0)),
        el(
          'td',
          '',
          row.submitted ? new Date(row.submitted).toLocaleString() : ''
        )
      );
    }
  }
  return node;
}

function shakeCell(row: IBoardRow): HTMLElement {
  const shake = row.shake_up;
  if (shake === null || shake === undefined) {
    return el('td');
  }
  if (shake === 0) {
    return el('td', 'jp-WorkbenchLeaderboard-shake', '=');
  }
  const cell = el(
    'td',
    `jp-WorkbenchLeaderboard-shake ${shake > 0 ? 'jp-mod-up' : 'jp-mod-down'}`,
    `${shake > 0 ? '▲' : '▼'} ${Math.abs(shake)}`
  );
  cell.title =
    shake > 0 ? `climbed ${shake} place(s)` : `fell ${-shake} place(s)`;
  return cell;
}
