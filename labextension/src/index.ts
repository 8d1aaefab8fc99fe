/**
 * AICC Workbench JupyterLab plugins: the Courses panel and the device status item.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';

import { WorkbenchAPI } from './api';
import { CoursesPanel } from './courses';
import { DeviceStatus } from './deviceStatus';
import { coursesIcon } from './icons';

namespace CommandIDs {
  export const openCourses = 'aicc-workbench:open-courses';
  export const refreshCourses = 'aicc-workbench:refresh-courses';
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

    void app.restored.then(() => panel.refresh());
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

export default [coursesPlugin, deviceStatusPlugin];
