/**
 * AICC Workbench JupyterLab plugins: the Courses panel, the device status item, the Submit
 * button and Feedback panel of students, the instructor's Devices and Gradebook panels, and the
 * hackathon Leaderboard with its organiser view and the Submit actions of event notebooks.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';

import { WorkbenchAPI } from './api';
import { CoursesPanel } from './courses';
import { DeviceStatus } from './deviceStatus';
import { DevicesPanel } from './devicesPanel';
import { EventSubmitExtension } from './eventSubmit';
import { EventsAPI } from './eventsApi';
import { FeedbackPanel } from './feedbackPanel';
import { GradebookPanel } from './gradebookPanel';
import {
  coursesIcon,
  devicesIcon,
  feedbackIcon,
  gradebookIcon,
  leaderboardIcon
} from './icons';
import { LeaderboardPanel } from './leaderboardPanel';
import { OrganiserPanel } from './organiserPanel';
import { WorkbenchPanel } from './panel';
import { SubmitButtonExtension } from './submitButton';

namespace CommandIDs {
  export const openCourses = 'aicc-workbench:open-courses';
  export const refreshCourses = 'aicc-workbench:refresh-courses';
  export const openDevices = 'aicc-workbench:open-devices';
  export const openGradebook = 'aicc-workbench:open-gradebook';
  export const openFeedback = 'aicc-workbench:open-feedback';
  export const openLeaderboard = 'aicc-workbench:open-leaderboard';
}

/** Buttons the Courses panel shows to instructors: [command, label, title]. */
const INSTRUCTOR_ACTIONS: [string, string, string][] = [
  [CommandIDs.openDevices, 'Devices', 'Who holds which device; release leases'],
  [CommandIDs.openGradebook, 'Gradebook', 'Students × tasks; manual points']
];

/**
 * Show a main-area panel, creating it on first use and again once it was closed.
 */
function mainAreaOpener<T extends WorkbenchPanel>(
  app: JupyterFrontEnd,
  id: string,
  create: () => T
): () => T {
  let panel: T | null = null;
  return () => {
    if (!panel || panel.isDisposed) {
      panel = create();
      panel.id = id;
      panel.title.closable = true;
    }
    if (!panel.isAttached) {
      app.shell.add(panel, 'main');
    }
    void panel.refresh();
    app.shell.activateById(panel.id);
    return panel;
  };
}

const coursesPlugin: JupyterFrontEndPlugin<void> = {
  id: 'aicc-workbench:courses',
  description: 'A side panel listing workbench courses and labs.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ) => {
    const api = new WorkbenchAPI(app.serviceManager.serverSettings);
    const panel = new CoursesPanel(api, path =>
      app.commands.execute('docmanager:open', { path })
    );
    panel.id = 'aicc-workbench-courses';
    panel.title.icon = coursesIcon;
    panel.title.caption = 'Courses';
    app.shell.add(panel, 'left', { rank: 150 });
    restorer?.add(panel, panel.id);

    app.commands.addCommand(CommandIDs.openCourses, {
      label: 'Show Workbench Courses',
      icon: coursesIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand(CommandIDs.refreshCourses, {
      label: 'Refresh Workbench Courses',
      execute: () => panel.refresh()
    });
    palette?.addItem({
      command: CommandIDs.openCourses,
      category: 'Workbench'
    });
    palette?.addItem({
      command: CommandIDs.refreshCourses,
      category: 'Workbench'
    });

    void app.restored.then(async () => {
      await panel.refresh();
      const events = await new EventsAPI(api).events().catch(() => []);
      if (
        events.length > 0 &&
        app.commands.hasCommand(CommandIDs.openLeaderboard)
      ) {
        panel.addAction(
          'Leaderboard',
          'Hackathon events: boards, your team, the starter',
          () => {
            void app.commands.execute(CommandIDs.openLeaderboard);
          }
        );
      }
      let role = '';
      try {
        role = (await api.me()).role;
      } catch {
        return; // the panel already shows why the server did not answer
      }
      if (role !== 'instructor') {
        return;
      }
      for (const [command, label, title] of INSTRUCTOR_ACTIONS) {
        if (app.commands.hasCommand(command)) {
          panel.addAction(label, title, () => {
            void app.commands.execute(command);
          });
        }
      }
    });
  }
};

const deviceStatusPlugin: JupyterFrontEndPlugin<void> = {
  id: 'aicc-workbench:device-status',
  description:
    'Shows the device of the current notebook kernel in the status bar.',
  autoStart: true,
  requires: [INotebookTracker, IStatusBar],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    statusBar: IStatusBar
  ) => {
    const api = new WorkbenchAPI(app.serviceManager.serverSettings);
    const item = new DeviceStatus(api, tracker);
    statusBar.registerStatusItem(deviceStatusPlugin.id, {
      item,
      align: 'left',
      rank: 5,
      isActive: () => tracker.currentWidget !== null,
      activeStateChanged: item.activeStateChanged
    });
  }
};

/**
 * A plugin offering an instructor-only main-area panel through a command (palette and the
 * Courses panel's buttons); students never see the command.
 */
function instructorPanelPlugin(options: {
  id: string;
  description: string;
  command: string;
  label: string;
  caption: string;
  icon: LabIcon;
  create: (api: WorkbenchAPI) => WorkbenchPanel;
}): JupyterFrontEndPlugin<void> {
  return {
    id: options.id,
    description: options.description,
    autoStart: true,
    optional: [ICommandPalette],
    activate: (app: JupyterFrontEnd, palette: ICommandPalette | null) => {
      const api = new WorkbenchAPI(app.serviceManager.serverSettings);
      let instructor = false;
      const open = mainAreaOpener(app, options.id.replace(':', '-'), () => {
        const panel = options.create(api);
        panel.title.icon = options.icon;
        return panel;
      });
      app.commands.addCommand(options.command, {
        label: options.label,
        caption: options.caption,
        icon: options.icon,
        isVisible: () => instructor,
        execute: () => {
          open();
        }
      });
      void api
        .me()
        .then(me => {
          instructor = me.role === 'instructor';
          if (instructor) {
            palette?.addItem({
              command: options.command,
              category: 'Workbench'
            });
          }
        })
        .catch(() => undefined);
    }
  };
}

const devicesPlugin = instructorPanelPlugin({
  id: 'aicc-workbench:devices',
  description:
    'The instructor Devices panel: leases, inventory, usage, release.',
  command: CommandIDs.openDevices,
  label: 'Show Workbench Devices',
  caption: 'Who holds which device, usage, and releasing leases',
  icon: devicesIcon,
  create: api => new DevicesPanel(api)
});

const gradebookPlugin = instructorPanelPlugin({
  id: 'aicc-workbench:gradebook',
  description:
    'The instructor Gradebook: students × tasks, manual points, autograde.',
  command: CommandIDs.openGradebook,
  label: 'Show Workbench Gradebook',
  caption: 'Students × tasks of a lab; manual points; autograde',
  icon: gradebookIcon,
  create: api => new GradebookPanel(api)
});

const feedbackPlugin: JupyterFrontEndPlugin<void> = {
  id: 'aicc-workbench:feedback',
  description:
    'The Submit button of lab notebooks and the Feedback panel of students.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ) => {
    const api = new WorkbenchAPI(app.serviceManager.serverSettings);
    const panel = new FeedbackPanel(api);
    panel.id = 'aicc-workbench-feedback';
    panel.title.icon = feedbackIcon;
    const show = () => {
      if (!panel.isAttached) {
        app.shell.add(panel, 'left', { rank: 151 });
      }
      app.shell.activateById(panel.id);
      void panel.refresh();
    };
    app.commands.addCommand(CommandIDs.openFeedback, {
      label: 'Show Workbench Feedback',
      caption: 'Your submissions, their scores and messages',
      icon: feedbackIcon,
      execute: show
    });
    palette?.addItem({
      command: CommandIDs.openFeedback,
      category: 'Workbench'
    });

    app.docRegistry.addWidgetExtension(
      'Notebook',
      new SubmitButtonExtension(api, () => {
        void app.commands.execute(CommandIDs.openFeedback);
      })
    );

    // Students get the panel as a side-bar tab from the start.
    void api
      .me()
      .then(me => {
        if (me.role === 'student' && !panel.isAttached) {
          app.shell.add(panel, 'left', { rank: 151 });
          restorer?.add(panel, panel.id);
          void app.restored.then(() => panel.refresh());
        }
      })
      .catch(() => undefined);
  }
};

const leaderboardPlugin: JupyterFrontEndPlugin<void> = {
  id: 'aicc-workbench:leaderboard',
  description:
    'The hackathon Leaderboard, the organiser view and the Submit actions of event notebooks.',
  autoStart: true,
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, palette: ICommandPalette | null) => {
    const api = new WorkbenchAPI(app.serviceManager.serverSettings);
    const organisers = new Map<string, () => OrganiserPanel>();
    let board: LeaderboardPanel | null = null;
    const openBoard = mainAreaOpener(app, 'aicc-workbench-leaderboard', () => {
      board = new LeaderboardPanel(
        api,
        async path => {
          // Opening an event writes its kernel spec: list it before the notebook asks for it.
          await app.serviceManager.kernelspecs.refreshSpecs();
          return app.commands.execute('docmanager:open', { path });
        },
        event => {
          if (!organisers.has(event)) {
            organisers.set(
              event,
              mainAreaOpener(app, `aicc-workbench-organiser-${event}`, () => {
                const panel = new OrganiserPanel(
                  api,
                  event,
                  () => void board?.reload()
                );
                panel.title.icon = leaderboardIcon;
                return panel;
              })
            );
          }
          organisers.get(event)!();
        }
      );
      board.title.icon = leaderboardIcon;
      return board;
    });
    app.commands.addCommand(CommandIDs.openLeaderboard, {
      label: 'Show Workbench Leaderboard',
      caption:
        'Hackathon events: public and private boards, your team, the starter',
      icon: leaderboardIcon,
      execute: () => {
        openBoard();
      }
    });
    palette?.addItem({
      command: CommandIDs.openLeaderboard,
      category: 'Workbench'
    });
    app.docRegistry.addWidgetExtension(
      'Notebook',
      new EventSubmitExtension(
        new EventsAPI(api),
        app.serviceManager.contents,
        () => {
          openBoard();
        }
      )
    );
  }
};

export default [
  coursesPlugin,
  deviceStatusPlugin,
  devicesPlugin,
  gradebookPlugin,
  feedbackPlugin,
  leaderboardPlugin
];
